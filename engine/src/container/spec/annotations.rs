//! The spec's annotations: the user's `--annotation` values, then the ones
//! podman 5 writes (its keys, so tools reading them keep working), with
//! `io.container.manager` naming husk.

use std::collections::HashMap;

use crate::container::options::ContainerOptions;

/// `--annotation` values plus `io.container.manager=husk`,
/// `io.podman.annotations.{autoremove,init,privileged}=TRUE|FALSE`,
/// `org.opencontainers.image.stopSignal`, `org.systemd.property.KillSignal`
/// and, with `--stop-timeout`, `org.systemd.property.TimeoutStopUSec`.
pub fn build(o: &ContainerOptions, stop_signal: i32, stop_timeout: u64) -> HashMap<String, String> {
    let mut a: HashMap<String, String> = o.annotations.clone().into_iter().collect();
    let flag = |b: bool| if b { "TRUE" } else { "FALSE" }.to_string();
    a.insert("io.container.manager".into(), "husk".into());
    a.insert("io.podman.annotations.autoremove".into(), flag(o.rm));
    a.insert("io.podman.annotations.init".into(), flag(o.init));
    a.insert(
        "io.podman.annotations.privileged".into(),
        flag(o.privileged),
    );
    a.insert(
        "org.opencontainers.image.stopSignal".into(),
        stop_signal.to_string(),
    );
    a.insert(
        "org.systemd.property.KillSignal".into(),
        stop_signal.to_string(),
    );
    if o.stop_timeout.is_some() {
        a.insert(
            "org.systemd.property.TimeoutStopUSec".into(),
            format!("uint64 {}", stop_timeout.saturating_mul(1_000_000)),
        );
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn podman_keys_and_user_values() {
        let mut o = ContainerOptions {
            rm: true,
            stop_timeout: Some(3),
            ..Default::default()
        };
        o.annotations.insert("a".into(), "b".into());
        o.annotations
            .insert("io.container.manager".into(), "mine".into());
        let a = build(&o, 15, 3);
        assert_eq!(a["a"], "b");
        assert_eq!(a["io.container.manager"], "husk");
        assert_eq!(a["io.podman.annotations.autoremove"], "TRUE");
        assert_eq!(a["io.podman.annotations.privileged"], "FALSE");
        assert_eq!(a["org.opencontainers.image.stopSignal"], "15");
        assert_eq!(a["org.systemd.property.TimeoutStopUSec"], "uint64 3000000");
    }
}
