//! `husk push IMAGE [DESTINATION]` and `husk login` / `husk logout`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use clap::Args;

use super::flags::RemoteFlags;
use crate::cli::ctx::Ctx;
use crate::image::auth::Credentials;
use crate::image::push::{push, PushOptions};
use crate::image::registry::ErrorKind;
use crate::image::remote::{Remote, RemoteOptions};

/// `husk push` flags.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// Print nothing but errors.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Write the pushed manifest's digest to this file.
    #[arg(long, value_name = "PATH")]
    pub digestfile: Option<PathBuf>,
    /// Accepted for podman compatibility (blobs are pushed as stored).
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Accepted for podman compatibility (blobs are pushed as stored).
    #[arg(long)]
    pub compression_format: Option<String>,
    /// Accepted for podman compatibility (signatures are not made).
    #[arg(long)]
    pub remove_signatures: bool,
    /// Registry flags.
    #[command(flatten)]
    pub remote: RemoteFlags,
    /// The local image.
    #[arg(value_name = "IMAGE")]
    pub image: String,
    /// Where to push it (default: its name).
    #[arg(value_name = "DESTINATION")]
    pub destination: Option<String>,
}

/// `husk push`.
pub fn push_cmd(ctx: &mut Ctx, a: PushArgs) -> anyhow::Result<i32> {
    a.remote.check_authfile()?;
    let opts = PushOptions {
        remote: a.remote.options()?,
        quiet: a.quiet,
        digestfile: a.digestfile.clone(),
    };
    let eng = ctx.engine(true)?;
    push(eng, &a.image, a.destination.as_deref(), &opts)?;
    Ok(0)
}

/// `husk login` flags.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The user name.
    #[arg(short = 'u', long, value_name = "USER")]
    pub username: Option<String>,
    /// The password.
    #[arg(short = 'p', long, value_name = "PASSWORD")]
    pub password: Option<String>,
    /// Read the password from stdin.
    #[arg(long)]
    pub password_stdin: bool,
    /// Print the user name stored for the registry.
    #[arg(long)]
    pub get_login: bool,
    /// Path of the authentication file.
    #[arg(long, value_name = "PATH")]
    pub authfile: Option<PathBuf>,
    /// Require HTTPS and verify certificates.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub tls_verify: Option<bool>,
    /// Certificates for the registry.
    #[arg(long, value_name = "PATH")]
    pub cert_dir: Option<PathBuf>,
    /// Print the file the credentials went to.
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// The registry (`host[:port][/path]`, default the first search registry).
    #[arg(value_name = "REGISTRY")]
    pub registry: Option<String>,
}

/// `host[:port][/path]` from what the user typed (a URL's scheme and
/// path dropped, as podman does) and the host alone.
fn key_of(arg: &str) -> (String, String) {
    let key = match arg
        .strip_prefix("https://")
        .or_else(|| arg.strip_prefix("http://"))
    {
        Some(rest) => rest.split('/').next().unwrap_or_default().to_owned(),
        None => arg.trim_end_matches('/').to_owned(),
    };
    let host = key.split('/').next().unwrap_or_default().to_owned();
    (key, host)
}

fn default_registry(remote: &Remote) -> anyhow::Result<String> {
    remote
        .conf
        .search_registries()
        .0
        .first()
        .cloned()
        .ok_or_else(|| {
            anyhow::anyhow!("no registries found in registries.conf, a registry must be provided")
        })
}

fn prompt(text: &str) -> anyhow::Result<String> {
    print!("{text}");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line)? == 0 {
        anyhow::bail!("getting username and password: reading input: EOF");
    }
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

/// `husk login`.
pub fn login_cmd(ctx: &mut Ctx, a: LoginArgs) -> anyhow::Result<i32> {
    let opts = RemoteOptions {
        tls_verify: a.tls_verify,
        authfile: a.authfile.clone(),
        cert_dir: a.cert_dir.clone(),
        ..Default::default()
    };
    let remote = Remote::new(&opts, ctx.paths.host_uid)?;
    let arg = match &a.registry {
        Some(r) => r.clone(),
        None => default_registry(&remote)?,
    };
    let (key, host) = key_of(&arg);
    let path = key.split_once('/').map(|(_, p)| p).unwrap_or("");
    let stored = remote.auth.lookup(&host, path)?;
    if a.get_login {
        return match stored {
            Some(f) if !f.credentials.username.is_empty() => {
                println!("{}", f.credentials.username);
                Ok(0)
            }
            _ => anyhow::bail!("not logged into {key}"),
        };
    }
    let mut password = a.password.clone();
    if a.password_stdin {
        if password.is_some() {
            anyhow::bail!("Can't specify both --password-stdin and --password");
        }
        if a.username.is_none() {
            anyhow::bail!("Must provide --username with --password-stdin");
        }
        let mut s = String::new();
        for line in std::io::stdin().lock().lines() {
            s.push_str(&line?);
        }
        password = Some(s);
    }
    let username = match &a.username {
        Some(u) => u.clone(),
        None => prompt("Username: ")?.trim().to_owned(),
    };
    let password = match password {
        Some(p) => p,
        None => {
            if std::io::stdin().is_terminal() {
                eprintln!("husk: warning: the password is echoed (use --password-stdin)");
            }
            prompt("Password: ")?
        }
    };
    let creds = Credentials::new(&username, &password);
    let insecure = remote.insecure(remote.conf.host_insecure(&host));
    match remote.client.check_login(&host, insecure, &creds) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::Unauthorized => {
            anyhow::bail!("logging into {key:?}: invalid username/password")
        }
        Err(e) => return Err(anyhow::anyhow!("authenticating creds for {key:?}: {e}")),
    }
    remote.auth.login(&key, &creds)?;
    if a.verbose {
        println!("Used:  {}", remote.auth.write_path().display());
    }
    println!("Login Succeeded!");
    Ok(0)
}

/// `husk logout` flags.
#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// Remove the credentials of every registry.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Path of the authentication file.
    #[arg(long, value_name = "PATH")]
    pub authfile: Option<PathBuf>,
    /// The registry.
    #[arg(value_name = "REGISTRY")]
    pub registry: Option<String>,
}

/// `husk logout`.
pub fn logout_cmd(ctx: &mut Ctx, a: LogoutArgs) -> anyhow::Result<i32> {
    if let Some(f) = &a.authfile {
        if !f.exists() {
            anyhow::bail!(
                "checking authfile: stat {}: no such file or directory",
                f.display()
            );
        }
    }
    let opts = RemoteOptions {
        authfile: a.authfile.clone(),
        ..Default::default()
    };
    let remote = Remote::new(&opts, ctx.paths.host_uid)?;
    if a.all {
        if a.registry.is_some() {
            anyhow::bail!("--all takes no arguments");
        }
        remote.auth.logout_all()?;
        println!("Removed login credentials for all registries");
        return Ok(0);
    }
    let arg = match &a.registry {
        Some(r) => r.clone(),
        None => default_registry(&remote)?,
    };
    let (key, _) = key_of(&arg);
    remote.auth.logout(&key)?;
    println!("Removed login credentials for {key}");
    Ok(0)
}
