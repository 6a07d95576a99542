//! Certificates and password files for a [`super::Registry`] with TLS or
//! Basic auth, made by the host's `openssl` and `htpasswd`.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use super::{io_err, RegistryError};
use crate::tools;

fn run_tool(program: &Path, args: &[&str], dir: &Path) -> Result<Vec<u8>, RegistryError> {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| RegistryError::Spawn {
            program: program.to_owned(),
            source,
        })?;
    if !out.status.success() {
        return Err(RegistryError::Io {
            path: program.to_owned(),
            source: std::io::Error::other(format!(
                "`{} {}` failed ({}): {}",
                program.display(),
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )),
        });
    }
    Ok(out.stdout)
}

/// Makes `dir/ca.{crt,key}` (a CA) and `dir/server.{crt,key}` (for
/// 127.0.0.1 and localhost, signed by it) with openssl; EC P-256 keys.
pub fn make_certificates(dir: &Path) -> Result<(), RegistryError> {
    let openssl = tools::find_tool("HUSK_OPENSSL", "openssl")?;
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let ext = dir.join("server.ext");
    fs::write(
        &ext,
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=critical,CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .map_err(io_err(&ext))?;
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=husk test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    run_tool(&openssl, &ca, dir)?;
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    run_tool(&openssl, &csr, dir)?;
    run_tool(
        &openssl,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
        dir,
    )
    .map(drop)
}

/// Writes an htpasswd file with one bcrypt entry (`htpasswd -nbB`).
pub(super) fn write_htpasswd(path: &Path, user: &str, password: &str) -> Result<(), RegistryError> {
    let htpasswd = tools::find_tool("HUSK_HTPASSWD", "htpasswd")?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let line = run_tool(&htpasswd, &["-nbB", user, password], dir)?;
    fs::write(path, line).map_err(io_err(path))
}
