//! Sixteen `husk run -d` at once: all succeed, ids and names stay unique
//! (given and generated), and `husk ps` run throughout the burst never
//! fails and always prints a well-formed table.

#[macro_use]
mod engine_common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;

use engine_common::table::{self, PS_HEADER};
use engine_common::*;

const N: usize = 16;

/// Runs `N` `husk run -d` at once (names from `name(i)`, or generated),
/// with `ps -a` looping meanwhile; returns the ids printed.
fn burst(env: &Env, name: impl Fn(usize) -> Option<String> + Sync) -> Vec<String> {
    let img = env.img();
    let done = AtomicBool::new(false);
    let start = Barrier::new(N + 1);
    let (outs, ps_runs, ps_failures) = std::thread::scope(|s| {
        let ps = s.spawn(|| {
            start.wait();
            let (mut runs, mut failures) = (0, Vec::new());
            loop {
                let last = done.load(Ordering::SeqCst);
                let o = env.husk.run(&["ps", "-a"]);
                runs += 1;
                if !o.status.success() || has_error_line(&o.stderr) {
                    failures.push(format!("ps -a failed: {o}"));
                } else if let Err(e) = table::parse(&o.stdout, &PS_HEADER) {
                    failures.push(format!("ps -a printed a broken table: {e}"));
                }
                if last {
                    break;
                }
            }
            (runs, failures)
        });
        let runs: Vec<_> = (0..N)
            .map(|i| {
                let img = img.clone();
                let name = name(i);
                let start = &start;
                s.spawn(move || {
                    let mut args = vec!["run".to_owned(), "-d".to_owned()];
                    if let Some(n) = name {
                        args.extend(["--name".to_owned(), n]);
                    }
                    args.extend([img, "sleep".to_owned(), "1000".to_owned()]);
                    start.wait();
                    env.husk.run(&args)
                })
            })
            .collect();
        let outs: Vec<_> = runs.into_iter().map(|h| h.join().unwrap()).collect();
        done.store(true, Ordering::SeqCst);
        let (runs, failures) = ps.join().unwrap();
        (outs, runs, failures)
    });
    let failed: Vec<String> = outs
        .iter()
        .filter(|o| o.code() != 0)
        .map(ToString::to_string)
        .collect();
    assert!(
        failed.is_empty(),
        "[{}] {} of {N} concurrent `run -d` failed:\n{}",
        env.husk.flavour(),
        failed.len(),
        failed.join("\n")
    );
    assert!(
        ps_failures.is_empty(),
        "[{}] {} of {ps_runs} `ps -a` during the burst failed:\n{}",
        env.husk.flavour(),
        ps_failures.len(),
        ps_failures.join("\n")
    );
    let re = regex::Regex::new(ID_LINE).unwrap();
    for o in &outs {
        assert!(re.is_match(&o.stdout), "run -d printed {:?}", o.stdout);
    }
    let ids: Vec<String> = outs.iter().map(|o| o.stdout.trim().to_owned()).collect();
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(
        unique.len(),
        N,
        "[{}] duplicate ids: {ids:?}",
        env.husk.flavour()
    );
    ids
}

flavours!(
    /// Named containers.
    fn sixteen_named(env) {
        env.pull();
        let ids = burst(env, |i| Some(format!("c{i}")));
        let want: BTreeSet<String> = (0..N).map(|i| format!("c{i}")).collect();
        let o = env.ok(&["ps", "--format", "{{.Names}}|{{.ID}}|{{.State}}"]);
        let mut names = BTreeSet::new();
        for l in o.lines() {
            let f: Vec<&str> = l.split('|').collect();
            assert_eq!(f.len(), 3, "{l:?}");
            assert!(ids.iter().any(|id| id.starts_with(f[1])), "unknown id in {l:?}");
            if !podman43() {
                assert_eq!(f[2], "running", "{l:?}");
            }
            assert!(names.insert(f[0].to_owned()), "name {} listed twice", f[0]);
        }
        assert_eq!(names, want, "[{}] ps names", env.husk.flavour());
        for (i, id) in ids.iter().enumerate() {
            let name = env.husk.inspect(id, "{{.Name}}").unwrap_or_default();
            assert!(name.starts_with('c') && want.contains(&name), "{id} is named {name:?} ({i})");
        }
    }
);

flavours!(
    /// Generated names.
    fn sixteen_generated_names(env) {
        env.pull();
        burst(env, |_| None);
        let o = env.ok(&["ps", "-a", "--format", "{{.Names}}"]);
        let names: Vec<&str> = o.lines().collect();
        let unique: BTreeSet<&&str> = names.iter().collect();
        assert_eq!(names.len(), N, "{o}");
        assert_eq!(unique.len(), N, "[{}] generated names collide: {names:?}", env.husk.flavour());
    }
);
