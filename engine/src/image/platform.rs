//! Platform selection: which entry of an image index suits the platform the
//! user asked for (`--platform os/arch[/variant]`, `--os`, `--arch`,
//! `--variant`) or this host. Names are normalised to Go's GOOS/GOARCH
//! spelling first (`x86_64` is `amd64`, `aarch64` is `arm64` with variant
//! `v8`, `armhf` is `arm/v7`), so an index written by any tool matches.

use std::fmt;

use super::manifest::{Descriptor, Index, Platform};

/// A platform request that cannot be understood, or an index without a
/// matching entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlatformError {
    /// `--platform` is not `os/arch[/variant]`.
    #[error("invalid platform {0:?}: expected os/arch[/variant], e.g. linux/arm64/v8")]
    Invalid(String),
    /// `--platform` given together with `--os`, `--arch` or `--variant`.
    #[error("--platform cannot be combined with --os, --arch or --variant")]
    Conflict,
    /// No index entry matches.
    #[error("no image for platform {wanted} in the index (available: {})", available_list(.available))]
    NoMatch {
        /// The platform asked for, normalised.
        wanted: String,
        /// The platforms the index offers.
        available: Vec<String>,
    },
}

fn available_list(a: &[String]) -> String {
    if a.is_empty() {
        "none".to_owned()
    } else {
        a.join(", ")
    }
}

/// The platform to pull for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PlatformSpec {
    /// GOOS (`linux`).
    pub os: String,
    /// GOARCH (`amd64`, `arm64`, `arm`).
    pub architecture: String,
    /// CPU variant (`v8`, `v7`), if any.
    pub variant: Option<String>,
}

impl PlatformSpec {
    /// A normalised platform.
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> PlatformSpec {
        let (architecture, variant) = normalize_arch(architecture, variant);
        PlatformSpec {
            os: normalize_os(os),
            architecture,
            variant,
        }
    }

    /// The platform this binary runs on (Linux, the build's CPU).
    pub fn host() -> PlatformSpec {
        PlatformSpec::new("linux", std::env::consts::ARCH, None)
    }

    /// Parses `os/arch[/variant]`.
    pub fn parse(s: &str) -> Result<PlatformSpec, PlatformError> {
        let parts: Vec<&str> = s.split('/').collect();
        if parts
            .iter()
            .any(|p| p.is_empty() || p.contains(char::is_whitespace))
        {
            return Err(PlatformError::Invalid(s.to_owned()));
        }
        match parts[..] {
            [os, arch] => Ok(PlatformSpec::new(os, arch, None)),
            [os, arch, variant] => Ok(PlatformSpec::new(os, arch, Some(variant))),
            _ => Err(PlatformError::Invalid(s.to_owned())),
        }
    }

    /// The platform podman's flags ask for: `--platform`, or `--os`,
    /// `--arch` and `--variant` over the host's values.
    pub fn from_flags(
        platform: Option<&str>,
        os: Option<&str>,
        arch: Option<&str>,
        variant: Option<&str>,
    ) -> Result<PlatformSpec, PlatformError> {
        if let Some(p) = platform {
            if os.is_some() || arch.is_some() || variant.is_some() {
                return Err(PlatformError::Conflict);
            }
            return PlatformSpec::parse(p);
        }
        let host = PlatformSpec::host();
        let os = os.unwrap_or(&host.os);
        match arch {
            Some(a) => Ok(PlatformSpec::new(os, a, variant)),
            None => Ok(PlatformSpec::new(
                os,
                &host.architecture,
                variant.or(host.variant.as_deref()),
            )),
        }
    }

    /// How well an index entry's platform suits this one: `None` if it
    /// cannot run, else a rank (0 is an exact match, higher is an older
    /// variant that still runs).
    pub fn rank(&self, p: &Platform) -> Option<u32> {
        let (arch, variant) = normalize_arch(&p.architecture, p.variant.as_deref());
        if normalize_os(&p.os) != self.os || arch != self.architecture {
            return None;
        }
        let level = |v: &Option<String>| {
            v.as_deref()
                .and_then(|v| v.strip_prefix('v'))
                .and_then(|n| n.parse::<u32>().ok())
        };
        match (self.architecture.as_str(), &self.variant, &variant) {
            (_, want, have) if want == have => Some(0),
            // Newer arm and amd64 CPUs run code built for older variants.
            ("arm" | "amd64", want, have) => {
                let w = level(want).unwrap_or(1);
                let h = level(have).unwrap_or(1);
                (h <= w).then(|| w - h)
            }
            (_, None, Some(_)) => Some(1),
            _ => None,
        }
    }

    /// The best entry of `index` for this platform: the lowest rank, the
    /// first of equals.
    pub fn select<'a>(&self, index: &'a Index) -> Result<&'a Descriptor, PlatformError> {
        index
            .manifests
            .iter()
            .filter_map(|d| Some((self.rank(d.platform.as_ref()?)?, d)))
            .min_by_key(|(rank, _)| *rank)
            .map(|(_, d)| d)
            .ok_or_else(|| PlatformError::NoMatch {
                wanted: self.to_string(),
                available: index
                    .manifests
                    .iter()
                    .filter_map(|d| d.platform.as_ref())
                    .map(|p| {
                        PlatformSpec::new(&p.os, &p.architecture, p.variant.as_deref()).to_string()
                    })
                    .collect(),
            })
    }
}

impl fmt::Display for PlatformSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

fn normalize_os(os: &str) -> String {
    os.to_ascii_lowercase()
}

/// GOARCH and variant for the many spellings of a CPU; arm64 defaults to
/// `v8` and 32-bit arm to `v7`, so that "no variant" and the default compare
/// equal.
pub fn normalize_arch(arch: &str, variant: Option<&str>) -> (String, Option<String>) {
    let arch = arch.to_ascii_lowercase();
    let variant = variant
        .map(str::to_ascii_lowercase)
        .filter(|v| !v.is_empty());
    let arm_variant = |v: Option<String>| match v.as_deref() {
        None => Some("v7".to_owned()),
        Some(n @ ("5" | "6" | "7" | "8")) => Some(format!("v{n}")),
        Some(_) => v,
    };
    match arch.as_str() {
        "x86_64" | "x86-64" | "amd64" => ("amd64".into(), variant),
        "aarch64" | "arm64" => match variant.as_deref() {
            None | Some("8" | "v8") => ("arm64".into(), Some("v8".into())),
            _ => ("arm64".into(), variant),
        },
        "armhf" | "armv7" | "armv7l" => ("arm".into(), Some("v7".into())),
        "armel" | "armv6" | "armv6l" => ("arm".into(), Some("v6".into())),
        "armv5" | "armv5l" | "armv5tel" => ("arm".into(), Some("v5".into())),
        "arm" => ("arm".into(), arm_variant(variant)),
        "i386" | "i486" | "i586" | "i686" | "x86" | "386" => ("386".into(), variant),
        _ => (arch, variant),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::digest::Digest;

    fn entry(os: &str, arch: &str, variant: Option<&str>, n: u8) -> Descriptor {
        Descriptor {
            media_type: crate::image::media::OCI_MANIFEST.into(),
            digest: Digest::sha256_of(&[n]),
            size: 1,
            urls: None,
            annotations: None,
            platform: Some(Platform {
                architecture: arch.into(),
                os: os.into(),
                variant: variant.map(Into::into),
                ..Platform::default()
            }),
            artifact_type: None,
        }
    }

    fn index(entries: Vec<Descriptor>) -> Index {
        Index {
            schema_version: 2,
            media_type: None,
            manifests: entries,
            artifact_type: None,
            annotations: None,
        }
    }

    #[test]
    fn normalises_spellings() {
        let cases = [
            (("x86_64", None), ("amd64", None)),
            (("aarch64", None), ("arm64", Some("v8"))),
            (("arm64", Some("8")), ("arm64", Some("v8"))),
            (("armhf", None), ("arm", Some("v7"))),
            (("arm", None), ("arm", Some("v7"))),
            (("arm", Some("6")), ("arm", Some("v6"))),
            (("armel", None), ("arm", Some("v6"))),
            (("i686", None), ("386", None)),
            (("S390X", None), ("s390x", None)),
        ];
        for ((a, v), (ea, ev)) in cases {
            assert_eq!(
                normalize_arch(a, v),
                (ea.to_owned(), ev.map(str::to_owned)),
                "{a} {v:?}"
            );
        }
        assert_eq!(
            PlatformSpec::parse("linux/arm64/v8").unwrap().to_string(),
            "linux/arm64/v8"
        );
        assert_eq!(
            PlatformSpec::parse("Linux/x86_64").unwrap().to_string(),
            "linux/amd64"
        );
        for bad in ["linux", "linux/", "/amd64", "a/b/c/d", "linux/amd 64"] {
            assert!(PlatformSpec::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn flags_build_a_platform() {
        let host = PlatformSpec::host();
        assert_eq!(
            PlatformSpec::from_flags(None, None, None, None).unwrap(),
            host
        );
        let p = PlatformSpec::from_flags(None, None, Some("aarch64"), None).unwrap();
        assert_eq!(p.to_string(), "linux/arm64/v8");
        let p = PlatformSpec::from_flags(None, Some("linux"), Some("arm"), Some("v6")).unwrap();
        assert_eq!(p.to_string(), "linux/arm/v6");
        assert_eq!(
            PlatformSpec::from_flags(Some("linux/amd64"), None, Some("arm64"), None),
            Err(PlatformError::Conflict)
        );
        if std::env::consts::ARCH == "x86_64" {
            assert_eq!(host.to_string(), "linux/amd64");
        }
    }

    #[test]
    fn selects_the_best_entry() {
        let idx = index(vec![
            entry("linux", "amd64", None, 1),
            entry("linux", "arm64", Some("v8"), 2),
            entry("linux", "arm", Some("v6"), 3),
            entry("linux", "arm", Some("v7"), 4),
            entry("unknown", "unknown", None, 5),
        ]);
        let pick = |s: &str| {
            PlatformSpec::parse(s)
                .unwrap()
                .select(&idx)
                .map(|d| d.digest.clone())
        };
        assert_eq!(pick("linux/amd64").unwrap(), idx.manifests[0].digest);
        assert_eq!(pick("linux/x86_64").unwrap(), idx.manifests[0].digest);
        assert_eq!(pick("linux/arm64").unwrap(), idx.manifests[1].digest);
        assert_eq!(pick("linux/aarch64/8").unwrap(), idx.manifests[1].digest);
        assert_eq!(pick("linux/arm").unwrap(), idx.manifests[3].digest);
        assert_eq!(pick("linux/arm/v6").unwrap(), idx.manifests[2].digest);
        assert_eq!(pick("linux/arm/v8").unwrap(), idx.manifests[3].digest);
        let e = pick("linux/s390x").unwrap_err();
        assert_eq!(
            e.to_string(),
            "no image for platform linux/s390x in the index (available: linux/amd64, \
             linux/arm64/v8, linux/arm/v6, linux/arm/v7, unknown/unknown)"
        );
        assert!(pick("linux/arm/v5").is_err());
        assert!(pick("windows/amd64").is_err());
        // An arm64 entry without a variant is the v8 default.
        let idx = index(vec![entry("linux", "arm64", None, 9)]);
        assert!(PlatformSpec::parse("linux/arm64/v8")
            .unwrap()
            .select(&idx)
            .is_ok());
        // amd64 v3 runs v2 and baseline images, not the other way round.
        let idx = index(vec![
            entry("linux", "amd64", Some("v3"), 1),
            entry("linux", "amd64", None, 2),
        ]);
        let d = PlatformSpec::parse("linux/amd64/v2")
            .unwrap()
            .select(&idx)
            .unwrap();
        assert_eq!(d.digest, idx.manifests[1].digest);
        let d = PlatformSpec::parse("linux/amd64/v3")
            .unwrap()
            .select(&idx)
            .unwrap();
        assert_eq!(d.digest, idx.manifests[0].digest);
        let d = PlatformSpec::parse("linux/amd64")
            .unwrap()
            .select(&idx)
            .unwrap();
        assert_eq!(d.digest, idx.manifests[1].digest);
    }
}
