//! Which registries.conf files are read, in which order, as containers/image
//! decides: the main file is `--registries-conf` or
//! `$CONTAINERS_REGISTRIES_CONF` when given, else
//! `$XDG_CONFIG_HOME/containers/registries.conf` (`~/.config/...`) when it
//! exists, else `/etc/containers/registries.conf`. Drop-ins (`*.conf`, in
//! lexical order) follow from `/etc/containers/registries.conf.d` and then
//! the user's `registries.conf.d`; when the user's own main file is used,
//! only the user's drop-ins are. A missing default main file is no error; a
//! missing file that was asked for is.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::{file, Registries, RegistriesError};

/// The system-wide main file.
pub const SYSTEM_FILE: &str = "/etc/containers/registries.conf";
/// The system-wide drop-in directory.
pub const SYSTEM_DIR: &str = "/etc/containers/registries.conf.d";

/// The files to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigPaths {
    /// The main file.
    pub main: PathBuf,
    /// Whether the main file was asked for (then it must exist).
    pub explicit: bool,
    /// Drop-in directories, in order.
    pub dropin_dirs: Vec<PathBuf>,
}

impl ConfigPaths {
    /// The paths for this process's environment; `explicit` is
    /// `--registries-conf`.
    pub fn discover(explicit: Option<&Path>) -> ConfigPaths {
        ConfigPaths::discover_with(explicit, |k| std::env::var_os(k).map(PathBuf::from))
    }

    /// [`ConfigPaths::discover`] with the environment given as a lookup.
    pub fn discover_with(
        explicit: Option<&Path>,
        env: impl Fn(&str) -> Option<PathBuf>,
    ) -> ConfigPaths {
        let config_home = env("XDG_CONFIG_HOME")
            .filter(|p| p.is_absolute())
            .or_else(|| env("HOME").map(|h| h.join(".config")));
        let user_file = config_home
            .as_ref()
            .map(|c| c.join("containers/registries.conf"));
        let user_dir = config_home.map(|c| c.join("containers/registries.conf.d"));
        let asked = explicit
            .map(Path::to_path_buf)
            .or_else(|| env("CONTAINERS_REGISTRIES_CONF").filter(|p| !p.as_os_str().is_empty()));
        if asked.is_none() {
            if let Some(f) = user_file.filter(|f| f.exists()) {
                return ConfigPaths {
                    main: f,
                    explicit: false,
                    dropin_dirs: user_dir.into_iter().collect(),
                };
            }
        }
        ConfigPaths {
            explicit: asked.is_some(),
            main: asked.unwrap_or_else(|| PathBuf::from(SYSTEM_FILE)),
            dropin_dirs: std::iter::once(PathBuf::from(SYSTEM_DIR))
                .chain(user_dir)
                .collect(),
        }
    }

    /// Only `main`, no drop-ins (tests, and tools that want one file).
    pub fn only(main: &Path) -> ConfigPaths {
        ConfigPaths {
            main: main.to_owned(),
            explicit: true,
            dropin_dirs: Vec::new(),
        }
    }

    /// The drop-in files, each directory's `*.conf` in lexical order.
    pub fn dropins(&self) -> Result<Vec<PathBuf>, RegistriesError> {
        let mut out = Vec::new();
        for dir in &self.dropin_dirs {
            let entries = match fs::read_dir(dir) {
                Ok(e) => e,
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(source) => {
                    return Err(RegistriesError::Read {
                        path: dir.clone(),
                        source,
                    })
                }
            };
            let mut files: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| !t.is_dir()))
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "conf"))
                .collect();
            files.sort();
            out.extend(files);
        }
        Ok(out)
    }
}

impl Registries {
    /// Reads and merges the files of `paths`.
    pub fn load(paths: &ConfigPaths) -> Result<Registries, RegistriesError> {
        let mut r = Registries::default();
        match fs::read_to_string(&paths.main) {
            Ok(text) => r.merge(paths.main.clone(), file::parse(&text, &paths.main)?),
            Err(e) if e.kind() == ErrorKind::NotFound && !paths.explicit => {}
            Err(source) => {
                return Err(RegistriesError::Read {
                    path: paths.main.clone(),
                    source,
                })
            }
        }
        for path in paths.dropins()? {
            match fs::read_to_string(&path) {
                Ok(text) => {
                    let f = file::parse(&text, &path)?;
                    r.merge(path, f);
                }
                // Removed between listing and reading.
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(source) => return Err(RegistriesError::Read { path, source }),
            }
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chooses_files_like_containers_image() {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("home");
        let env = |xdg: Option<PathBuf>, var: Option<PathBuf>| {
            let home = home.clone();
            move |k: &str| match k {
                "HOME" => Some(home.clone()),
                "XDG_CONFIG_HOME" => xdg.clone(),
                "CONTAINERS_REGISTRIES_CONF" => var.clone(),
                _ => None,
            }
        };
        // No user file: the system file, then system and user drop-ins.
        let p = ConfigPaths::discover_with(None, env(None, None));
        assert_eq!(p.main, PathBuf::from(SYSTEM_FILE));
        assert!(!p.explicit);
        assert_eq!(
            p.dropin_dirs,
            [
                PathBuf::from(SYSTEM_DIR),
                home.join(".config/containers/registries.conf.d")
            ]
        );
        // The user's file, once it exists, with only the user's drop-ins.
        let user = home.join(".config/containers/registries.conf");
        fs::create_dir_all(user.parent().unwrap()).unwrap();
        fs::write(&user, "").unwrap();
        let p = ConfigPaths::discover_with(None, env(None, None));
        assert_eq!(p.main, user);
        assert_eq!(
            p.dropin_dirs,
            [home.join(".config/containers/registries.conf.d")]
        );
        // XDG_CONFIG_HOME moves it.
        let xdg = tmp.path().join("xdg");
        let p = ConfigPaths::discover_with(None, env(Some(xdg.clone()), None));
        assert_eq!(p.main, PathBuf::from(SYSTEM_FILE));
        assert_eq!(p.dropin_dirs[1], xdg.join("containers/registries.conf.d"));
        // The variable, and the flag over it, win over the user file.
        let var = tmp.path().join("var.conf");
        let p = ConfigPaths::discover_with(None, env(None, Some(var.clone())));
        assert_eq!((p.main.clone(), p.explicit), (var.clone(), true));
        let flag = tmp.path().join("flag.conf");
        let p = ConfigPaths::discover_with(Some(&flag), env(None, Some(var)));
        assert_eq!(p.main, flag);
    }

    #[test]
    fn merges_dropins_in_lexical_order() {
        let tmp = tempfile::tempdir().unwrap();
        let main = tmp.path().join("registries.conf");
        let d = tmp.path().join("registries.conf.d");
        fs::create_dir(&d).unwrap();
        fs::write(
            &main,
            r#"unqualified-search-registries = ["one.example"]
               [[registry]]
               location = "a.example"
               insecure = true
               [aliases]
               "app" = "one.example/team/app"
               "gone" = "one.example/gone""#,
        )
        .unwrap();
        fs::write(
            d.join("000-shortnames.conf"),
            "[aliases]\n\"busybox\" = \"docker.io/library/busybox\"\n\"gone\" = \"\"\n",
        )
        .unwrap();
        fs::write(
            d.join("010-override.conf"),
            "unqualified-search-registries = [\"two.example\", \"three.example:5000\"]\n\
             short-name-mode = \"enforcing\"\n\
             [[registry]]\nprefix = \"a.example\"\nblocked = true\n",
        )
        .unwrap();
        fs::write(d.join("README"), "not toml {").unwrap();
        fs::create_dir(d.join("sub.conf")).unwrap();
        let paths = ConfigPaths {
            main: main.clone(),
            explicit: true,
            dropin_dirs: vec![d.clone(), tmp.path().join("missing.d")],
        };
        let r = Registries::load(&paths).unwrap();
        assert_eq!(
            r.files(),
            [
                main,
                d.join("000-shortnames.conf"),
                d.join("010-override.conf")
            ]
        );
        let (search, origin) = r.search_registries();
        assert_eq!(search, ["two.example", "three.example:5000"]);
        assert_eq!(origin, Some(&d.join("010-override.conf")));
        assert_eq!(r.short_name_mode(), super::super::ShortNameMode::Enforcing);
        // The later table replaced the earlier one for the same prefix.
        assert_eq!(r.entries().len(), 1);
        assert!(r.entries()[0].blocked && !r.entries()[0].insecure);
        assert_eq!(
            r.alias("app").unwrap().target.to_string(),
            "one.example/team/app"
        );
        assert_eq!(
            r.alias("busybox").unwrap().file,
            d.join("000-shortnames.conf")
        );
        assert!(r.alias("gone").is_none(), "an empty value erases an alias");
    }

    #[test]
    fn missing_files() {
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("nope.conf");
        let e = Registries::load(&ConfigPaths::only(&missing)).unwrap_err();
        assert!(matches!(e, RegistriesError::Read { .. }), "{e}");
        let paths = ConfigPaths {
            main: missing,
            explicit: false,
            dropin_dirs: vec![],
        };
        let r = Registries::load(&paths).unwrap();
        assert_eq!(r.search_registries(), (vec!["docker.io".to_owned()], None));
        let bad = tmp.path().join("bad.conf");
        fs::write(&bad, "[registries.search]\nregistries = [\"x.example\"]\n").unwrap();
        let e = Registries::load(&ConfigPaths::only(&bad))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("version 1 format") && e.contains("bad.conf"),
            "{e}"
        );
    }
}
