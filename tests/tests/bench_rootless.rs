//! `husk bench startup` as the unprivileged test user: husk-runtime's
//! lifecycle runs rootless (a user namespace mapping the user's own ids),
//! nothing is hidden or unshared, and the host says rootless.

mod bench_support;

use bench_support::{json, output, rows, QUICK};
use husk_tests::bundle::shared_runtime_binary;
use husk_tests::husk::shared_husk_binary;
use husk_tests::rootless::rootless_test;

#[test]
fn rootless_lifecycle_of_husk() {
    let user = rootless_test("rootless_lifecycle_of_husk");
    let rt = shared_runtime_binary();
    let mut cmd = user.command(shared_husk_binary());
    cmd.args([
        "bench",
        "startup",
        "--only",
        "runtimes",
        "--no-discover",
        "--json",
    ])
    .args(QUICK)
    .arg("--husk-runtime")
    .arg(&rt);
    let doc = json(&output(cmd));
    assert_eq!(doc["host"]["rootless"], true);
    assert_eq!(doc["host"]["cgroup2_hidden"], false);
    let husk = rows(&doc, "husk");
    assert_eq!(husk.len(), 4, "{doc:#}");
    for r in husk {
        assert_eq!(r["status"], "ok", "{r:#}");
        assert_eq!(r["path"], rt.to_str().unwrap());
    }
}
