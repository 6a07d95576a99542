//! `husk pull` end to end against a real registry, rootful and rootless:
//! every fixture unpacked with the right files, hostile layers refused
//! with nothing left, podman's errors for bad input, kill -9 mid-pull, and
//! concurrent pulls downloading each blob once.

mod image_common;

use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use husk_tests::fixtures::expected;
use husk_tests::fixtures::hostile::HOSTILE;
use husk_tests::husk::Husk;
use husk_tests::rootless::rootless_test;
use image_common::*;

#[test]
fn every_good_fixture_pulls_with_its_files() {
    let user = rootless_test("every_good_fixture_pulls_with_its_files");
    let (reg, pushed) = registry_with(&[
        "busybox",
        "layered-gzip",
        "layered-zstd",
        "layered-uncompressed",
        "multiarch",
    ]);
    for h in Husk::both(&user) {
        let h = husk_for(h, &reg);
        for p in &pushed {
            let out = h.run(&["pull", &p.reference]);
            assert!(
                out.status.success(),
                "[{}] pull {}: {out}",
                h.flavour(),
                p.reference
            );
            let id = out.stdout.trim().to_owned();
            assert_eq!(
                id,
                fixture_id(&p.repo),
                "[{}] {}: image id",
                h.flavour(),
                p.repo
            );
            // podman's plain progress lines, in order.
            let e = &out.stderr;
            let order = [
                format!("Trying to pull {}...", p.reference),
                "Getting image source signatures".to_owned(),
                "Copying blob sha256:".to_owned(),
                "Copying config sha256:".to_owned(),
                "Writing manifest to image destination".to_owned(),
            ];
            let mut at = 0;
            for line in &order {
                let i = e[at..].find(line.as_str()).unwrap_or_else(|| {
                    panic!(
                        "[{}] stderr lacks {line:?} after byte {at}: {e}",
                        h.flavour()
                    )
                });
                at += i + line.len();
            }
        }
        for layered in ["layered-gzip", "layered-zstd", "layered-uncompressed"] {
            check_rootfs(
                &h,
                &user,
                &reg.reference(layered, "latest"),
                &expected::layered(),
            );
        }
        check_rootfs(
            &h,
            &user,
            &reg.reference("busybox", "latest"),
            &expected::busybox(),
        );
        // The three layered images share their unpacked layers (same diff ids).
        let listed = h.ok(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]);
        for p in &pushed {
            assert!(
                listed.contains(&p.reference),
                "[{}] images lacks {}: {listed}",
                h.flavour(),
                p.reference
            );
        }
        // -q prints only the id; a second pull is a no-op with the same id.
        let again = h.ok(&["pull", "-q", &reg.reference("busybox", "latest")]);
        assert_eq!(again.trim(), fixture_id("busybox"));
        // The other platform of the index.
        let arm = h.ok(&[
            "pull",
            "-q",
            "--platform",
            "linux/arm64/v8",
            &reg.reference("multiarch", "latest"),
        ]);
        assert_ne!(arm.trim(), fixture_id("multiarch"));
        let arch = h.ok(&[
            "image",
            "inspect",
            "--format",
            "{{.Architecture}}",
            arm.trim(),
        ]);
        assert_eq!(arch.trim(), "arm64");
        h.fails(
            &[
                "pull",
                "--arch",
                "s390x",
                &reg.reference("multiarch", "latest"),
            ],
            125,
            &["no image for platform linux/s390x"],
        );
        assert!(
            staging(&h).is_empty(),
            "[{}] staging left: {:?}",
            h.flavour(),
            staging(&h)
        );
    }
}

#[test]
fn hostile_fixtures_are_refused_and_leave_nothing() {
    let user = rootless_test("hostile_fixtures_are_refused_and_leave_nothing");
    let names: Vec<&str> = HOSTILE.iter().map(|f| f.name).collect();
    let (reg, _) = registry_with(&names);
    for flavour in 0..2 {
        for f in HOSTILE {
            let h = if flavour == 0 {
                Husk::rootful()
            } else {
                Husk::rootless(&user)
            };
            let h = husk_for(h, &reg);
            let r = reg.reference(f.name, "latest");
            let out = h.run(&["pull", "-q", &r]);
            for c in f.host_canaries {
                assert!(
                    !std::path::Path::new(c).exists(),
                    "[{}] {}: canary {c} on the host",
                    h.flavour(),
                    f.name
                );
            }
            for dir in [
                storage(&h),
                storage(&h).join("tmp"),
                storage(&h).join("layers"),
                h.root(),
            ] {
                for c in f.relative_canaries {
                    assert!(
                        !dir.join(c).exists(),
                        "[{}] {}: {c} next to {}",
                        h.flavour(),
                        f.name,
                        dir.display()
                    );
                }
            }
            if f.name == "hostile-abs-symlink" {
                // Unpacks: the link is replaced inside the layer, nothing
                // reaches the host.
                assert!(out.status.success(), "[{}] {}: {out}", h.flavour(), f.name);
                continue;
            }
            assert_eq!(out.code(), 125, "[{}] {}: {out}", h.flavour(), f.name);
            assert!(
                out.stderr
                    .starts_with("Error: unpacking the image: layer sha256:"),
                "[{}] {}: {out}",
                h.flavour(),
                f.name
            );
            assert!(
                image_ids(&h).is_empty(),
                "[{}] {}: an image row was left",
                h.flavour(),
                f.name
            );
            assert!(
                layers(&h).is_empty(),
                "[{}] {}: layers left: {:?}",
                h.flavour(),
                f.name,
                layers(&h)
            );
            assert!(
                staging(&h).is_empty(),
                "[{}] {}: staging left: {:?}",
                h.flavour(),
                f.name,
                staging(&h)
            );
        }
    }
}

/// The blob files of a repository in the registry's storage.
fn registry_blob(reg: &husk_tests::registry::Registry, digest: &str) -> std::path::PathBuf {
    let hex = digest.trim_start_matches("sha256:");
    reg.dir()
        .join("storage/docker/registry/v2/blobs/sha256")
        .join(&hex[..2])
        .join(hex)
        .join("data")
}

#[test]
fn bad_input_gets_podmans_errors_and_leaves_nothing() {
    let user = rootless_test("bad_input_gets_podmans_errors_and_leaves_nothing");
    let (mut reg, pushed) = registry_with(&["busybox", "layered"]);
    // A manifest whose layer has a media type nobody unpacks, put by hand
    // over blobs the repository has.
    let raw = reg.inspect_raw("busybox", "latest").unwrap();
    let mut m: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    m["layers"][0]["mediaType"] = "application/x-bogus-layer".into();
    reg.push_layout(
        &husk_tests::fixtures::cached("busybox").layout_dir,
        "latest",
        "bogus",
    )
    .unwrap();
    let put = std::process::Command::new("curl")
        .args([
            "-sf",
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/vnd.oci.image.manifest.v1+json",
            "--data-binary",
        ])
        .arg(serde_json::to_string(&m).unwrap())
        .arg(format!("http://{}/v2/bogus/manifests/latest", reg.host()))
        .status()
        .expect("curl is installed (scripts/setup-host.sh)");
    assert!(put.success(), "putting the bogus manifest");
    // A corrupted layer blob: the layered image's top layer.
    let layered_raw = reg.inspect_raw("layered", "latest").unwrap();
    let lm: serde_json::Value = serde_json::from_slice(&layered_raw).unwrap();
    let top = lm["layers"][4]["digest"].as_str().unwrap().to_owned();
    let path = registry_blob(&reg, &top);
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();

    for h in Husk::both(&user) {
        let h = husk_for(h, &reg);
        let host = reg.host();
        h.fails(
            &["pull", &format!("{host}/nope")],
            125,
            &[&format!("Error: initializing source docker://{host}/nope:latest: reading manifest latest in {host}/nope: manifest unknown")],
        );
        h.fails(
            &["pull", &format!("{host}/busybox:nope")],
            125,
            &[&format!("initializing source docker://{host}/busybox:nope: reading manifest nope in {host}/busybox: manifest unknown")],
        );
        let wrong = format!("sha256:{}", "0".repeat(64));
        h.fails(
            &["pull", &format!("{host}/busybox@{wrong}")],
            125,
            &[
                &format!("initializing source docker://{host}/busybox@{wrong}"),
                "manifest unknown",
            ],
        );
        h.fails(
            &["pull", &format!("{host}/bogus")],
            125,
            &["unsupported media type", "application/x-bogus-layer"],
        );
        h.fails(
            &["pull", &pushed[1].reference],
            125,
            &[&format!("copying blob {top}"), "digest mismatch"],
        );
        h.fails(
            &["pull", "--retry", "0", "127.0.0.1:1/busybox"],
            125,
            &["cannot reach container registry 127.0.0.1:1"],
        );
        h.fails(
            &["pull", &format!("{host}/Busybox")],
            125,
            &[
                "invalid reference format",
                "repository name must be lowercase",
            ],
        );
        assert!(
            image_ids(&h).is_empty(),
            "[{}] rows left: {:?}",
            h.flavour(),
            image_ids(&h)
        );
        assert!(
            !blobs(&h).contains(&top.trim_start_matches("sha256:").to_owned()),
            "[{}] the corrupt blob was stored",
            h.flavour()
        );
        assert!(staging(&h).is_empty(), "[{}] staging left", h.flavour());
        // Whatever a failed pull left is complete, and prune takes it.
        h.ok(&["image", "prune", "-f"]);
        assert!(
            layers(&h).is_empty() && blobs(&h).is_empty(),
            "[{}] prune left {:?} {:?}",
            h.flavour(),
            layers(&h),
            blobs(&h)
        );
    }
    // A registry that went away.
    reg.stop();
    let h = husk_for(Husk::rootful(), &reg);
    h.fails(
        &[
            "pull",
            "--retry",
            "1",
            "--retry-delay",
            "10ms",
            &pushed[0].reference,
        ],
        125,
        &[
            &format!("cannot reach container registry {}", reg.host()),
            "connection refused",
        ],
    );
    assert!(image_ids(&h).is_empty());
}

#[test]
fn killed_pulls_leave_no_image_and_the_next_completes() {
    let user = rootless_test("killed_pulls_leave_no_image_and_the_next_completes");
    let (reg, pushed) = registry_with(&["layered"]);
    let r = &pushed[0].reference;
    for h in Husk::both(&user) {
        let h = husk_for(h, &reg);
        // How long a whole pull takes here, to spread the kills over it.
        let t = Instant::now();
        let probe = husk_for(
            if h.is_rootless() {
                Husk::rootless(&user)
            } else {
                Husk::rootful()
            },
            &reg,
        );
        probe.ok(&["pull", "-q", r]);
        let full = t.elapsed().as_micros().max(1000) as u64;
        let mut seed = std::process::id() as u64 ^ full;
        for round in 0..8u64 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let delay = Duration::from_micros((seed >> 33) % full);
            let mut child = h
                .cmd(&["pull", "-q", r])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .process_group(0)
                .spawn()
                .unwrap();
            std::thread::sleep(delay);
            // The whole group: rootless husk forks into its namespace.
            // SAFETY: kill(2) on a process group this test made.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.wait();
            // Wait for every process of the group to be gone.
            for _ in 0..200 {
                // SAFETY: signal 0 only checks for existence.
                if unsafe { libc::kill(-(child.id() as i32), 0) } != 0 {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let ids = image_ids(&h);
            assert!(ids.len() <= 1, "[{}] round {round}: {ids:?}", h.flavour());
            if !ids.is_empty() {
                // Visible means complete.
                check_rootfs(&h, &user, r, &expected::layered());
            }
        }
        let id = h.ok(&["pull", "-q", r]);
        assert_eq!(id.trim(), fixture_id("layered"));
        check_rootfs(&h, &user, r, &expected::layered());
        assert!(
            staging(&h).is_empty(),
            "[{}] staging left after the last pull: {:?}",
            h.flavour(),
            staging(&h)
        );
    }
}

#[test]
fn concurrent_pulls_download_each_blob_once() {
    let user = rootless_test("concurrent_pulls_download_each_blob_once");
    let (reg, pushed) = registry_with(&["layered"]);
    let r = pushed[0].reference.clone();
    for h in Husk::both(&user) {
        let h = husk_for(h, &reg);
        let before = reg.log();
        let kids: Vec<_> = (0..3)
            .map(|_| {
                h.cmd(&["pull", "-q", &r])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for k in kids {
            let out = k.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "[{}] {}",
                h.flavour(),
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                String::from_utf8_lossy(&out.stdout).trim(),
                fixture_id("layered")
            );
        }
        let log = reg.log();
        let new = &log[before.len().min(log.len())..];
        let raw = reg.inspect_raw("layered", "latest").unwrap();
        let m: serde_json::Value = serde_json::from_slice(&raw).unwrap();
        for l in m["layers"].as_array().unwrap() {
            let d = l["digest"].as_str().unwrap();
            let gets = new
                .lines()
                .filter(|line| {
                    line.contains("msg=\"response completed\"")
                        && line.contains("http.request.method=GET")
                        && line.contains(&format!("http.request.uri=\"/v2/layered/blobs/{d}\""))
                        && line.contains("http.response.status=200")
                })
                .count();
            assert_eq!(
                gets,
                1,
                "[{}] blob {d} downloaded {gets} times",
                h.flavour()
            );
        }
        check_rootfs(&h, &user, &r, &expected::layered());
    }
}
