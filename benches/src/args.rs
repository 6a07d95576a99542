//! The flags every benchmark takes: `-n N` (rounds), `--json FILE`,
//! `--markdown FILE`, plus its own, given back in `rest` to check.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};

/// Parsed common flags.
#[derive(Debug, Default, Clone)]
pub struct Args {
    /// `-n N`.
    pub n: Option<usize>,
    /// `--json FILE`.
    pub json: Option<PathBuf>,
    /// `--markdown FILE`.
    pub markdown: Option<PathBuf>,
    /// Benchmark-specific flags and values, in order.
    pub rest: Vec<String>,
}

impl Args {
    /// Splits `args` into the common flags and the rest.
    pub fn parse(args: &[String]) -> Result<Args> {
        let mut a = Args::default();
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = |flag: &str| it.next().with_context(|| format!("{flag} needs a value"));
            match arg.as_str() {
                "-n" => a.n = Some(value("-n")?.parse().context("-n needs a number")?),
                "--json" => a.json = Some(PathBuf::from(value("--json")?)),
                "--markdown" => a.markdown = Some(PathBuf::from(value("--markdown")?)),
                _ => a.rest.push(arg.clone()),
            }
        }
        Ok(a)
    }

    /// Takes `--flag VALUE` out of `rest`.
    pub fn take_value(&mut self, flag: &str) -> Result<Option<String>> {
        let Some(i) = self.rest.iter().position(|a| a == flag) else {
            return Ok(None);
        };
        if i + 1 >= self.rest.len() {
            bail!("{flag} needs a value");
        }
        let v = self.rest.remove(i + 1);
        self.rest.remove(i);
        Ok(Some(v))
    }

    /// Takes a `--flag` switch out of `rest`.
    pub fn take_flag(&mut self, flag: &str) -> bool {
        let before = self.rest.len();
        self.rest.retain(|a| a != flag);
        self.rest.len() != before
    }

    /// Fails on anything not taken.
    pub fn finish(&self, usage: &str) -> Result<()> {
        if let Some(a) = self.rest.first() {
            bail!("unknown argument {a:?}\n{usage}");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_common_and_own_flags() {
        let v: Vec<String> = [
            "-n", "3", "--mode", "rootless", "--json", "x.json", "--quick",
        ]
        .map(String::from)
        .to_vec();
        let mut a = Args::parse(&v).unwrap();
        assert_eq!(a.n, Some(3));
        assert_eq!(a.json, Some(PathBuf::from("x.json")));
        assert_eq!(a.take_value("--mode").unwrap().as_deref(), Some("rootless"));
        assert!(a.take_flag("--quick"));
        assert!(a.finish("u").is_ok());
        assert!(Args::parse(&["-n".into()]).is_err());
        let mut b = Args::parse(&["--bogus".into()]).unwrap();
        assert!(!b.take_flag("--quick"));
        assert!(b.finish("u").is_err());
    }
}
