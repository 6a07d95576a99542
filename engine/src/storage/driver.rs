//! Which storage driver a store uses, found by trying: a real overlay mount
//! with a whiteout and an opaque directory in a scratch directory, in the
//! same (user) namespace the engine will mount in. The answer is kept in
//! `<root>/driver.json` and asked again when the kernel changes.

use std::fmt;
use std::os::fd::AsFd;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::error::{io_err, Result};
use super::overlay::{self, OverlayMount};
use super::staging::Staging;
use super::sys;
use super::xattr;

/// A storage driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Driver {
    /// Native overlayfs: layers shared, a container costs only its changes.
    Overlay,
    /// A full copy of the image per container, whiteouts applied: works
    /// everywhere.
    Vfs,
}

impl fmt::Display for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Driver::Overlay => "overlay",
            Driver::Vfs => "vfs",
        })
    }
}

impl FromStr for Driver {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "overlay" | "overlay2" => Ok(Driver::Overlay),
            "vfs" => Ok(Driver::Vfs),
            other => Err(format!(
                "unknown storage driver {other:?} (husk has overlay and vfs)"
            )),
        }
    }
}

/// What the probe found out about this kernel and filesystem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    /// The kernel release the probe ran on.
    pub kernel: String,
    /// Whether the probe ran rootless (in a user namespace).
    pub rootless: bool,
    /// Whether a 0:0 character device (an overlay whiteout) can be made.
    pub whiteouts: bool,
    /// None if overlay works; else why not.
    pub overlay_error: Option<String>,
}

impl Probe {
    /// The driver to use when none is forced.
    pub fn best_driver(&self) -> Driver {
        if self.overlay_error.is_none() {
            Driver::Overlay
        } else {
            Driver::Vfs
        }
    }
}

/// The running kernel's release (`uname -r`).
pub fn kernel_release() -> String {
    // SAFETY: `utsname` is plain C data; all-zero is a valid value.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a writable utsname that outlives the call.
    if unsafe { libc::uname(&mut u) } != 0 {
        return String::new();
    }
    // SAFETY: uname NUL-terminates `release` within the array.
    unsafe { std::ffi::CStr::from_ptr(u.release.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

/// The probe result for `root`: cached in `<root>/driver.json` unless the
/// kernel or the rootless flag differs, else probed in `<root>/tmp` and
/// cached.
pub(crate) fn probe_cached(root: &Path, rootless: bool) -> Result<Probe> {
    let path = root.join("driver.json");
    let kernel = kernel_release();
    if let Ok(bytes) = std::fs::read(&path) {
        if let Ok(p) = serde_json::from_slice::<Probe>(&bytes) {
            if p.kernel == kernel && p.rootless == rootless {
                return Ok(p);
            }
        }
    }
    let p = probe(&root.join("tmp"), rootless)?;
    // The cache only saves the next probe: failing to write it (a read-only
    // root, a racing sweep) costs nothing but time.
    if let Ok(json) = serde_json::to_vec_pretty(&p) {
        let tmp = root
            .join("tmp")
            .join(super::staging::unique_name("driver.json"));
        if std::fs::write(&tmp, json).is_ok() && std::fs::rename(&tmp, &path).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
    Ok(p)
}

/// Tries whiteouts and an overlay mount in a staging directory under `tmp`.
pub fn probe(tmp: &Path, rootless: bool) -> Result<Probe> {
    let stage = Staging::create(tmp, "probe", 0o700)?;
    let p = stage.path().to_owned();
    let err = |op| io_err(op, p.clone());
    for d in ["lower", "lower/d", "upper", "upper/d", "work", "merged"] {
        std::fs::create_dir(p.join(d)).map_err(err("creating probe directories in"))?;
    }
    std::fs::write(p.join("lower/a"), "a").map_err(err("writing"))?;
    std::fs::write(p.join("lower/d/x"), "x").map_err(err("writing"))?;
    let upper = sys::open_dir(&p.join("upper")).map_err(err("opening"))?;
    let whiteouts = sys::mknodat(upper.as_fd(), c"a", libc::S_IFCHR, 0).is_ok();
    let kernel = kernel_release();
    let mut probe = Probe {
        kernel,
        rootless,
        whiteouts,
        overlay_error: None,
    };
    if !whiteouts {
        probe.overlay_error =
            Some("cannot create overlay whiteouts (0:0 character devices) here".into());
        return Ok(probe);
    }
    let attr = if rootless {
        c"user.overlay.opaque"
    } else {
        c"trusted.overlay.opaque"
    };
    let d = sys::open_dir(&p.join("upper/d")).map_err(err("opening"))?;
    if let Err(e) = xattr::fset(d.as_fd(), attr, b"y") {
        probe.overlay_error = Some(format!("cannot set {}: {e}", attr.to_string_lossy()));
        return Ok(probe);
    }
    let (lower, upper, work, merged) = (
        p.join("lower"),
        p.join("upper"),
        p.join("work"),
        p.join("merged"),
    );
    let m = OverlayMount {
        layers_dir: &p,
        lowers: vec![],
        extra_lowers: vec![lower],
        upper: &upper,
        work: &work,
        target: &merged,
        userxattr: rootless,
        volatile: false,
    };
    match m.mount() {
        Err((opts, e)) => probe.overlay_error = Some(format!("mount -t overlay -o {opts}: {e}")),
        Ok(_) => {
            let whiteout_hides = !merged.join("a").exists();
            let opaque_hides = merged.join("d").is_dir() && !merged.join("d/x").exists();
            let _ = overlay::unmount(&merged);
            if !(whiteout_hides && opaque_hides) {
                probe.overlay_error = Some(format!(
                    "overlay mounts but does not apply {} (whiteout hides: {whiteout_hides}, opaque dir hides: {opaque_hides})",
                    attr.to_string_lossy()
                ));
            }
        }
    }
    Ok(probe)
}
