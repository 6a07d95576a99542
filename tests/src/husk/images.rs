//! A test registry holding the busybox fixture, for engine tests that pull
//! by name.
//!
//! The fixture is pushed as `testbox:latest`, not `busybox`: the host's
//! `/etc/containers/registries.conf.d/*shortnames.conf` aliases `busybox`
//! to `docker.io/library/busybox`, and podman and husk both honour the
//! system drop-ins even when `CONTAINERS_REGISTRIES_CONF` names another
//! main file, so the short name `busybox` would never reach the test
//! registry. `testbox` has no alias and resolves through
//! `unqualified-search-registries` alone.

use crate::fixtures::{self, layout::read_json_blob};
use crate::registry::{PushedImage, Registry};

/// Repository (and short name) the busybox fixture is pushed under.
pub const TEST_REPO: &str = "testbox";

/// A running registry with the busybox fixture pushed as
/// [`TEST_REPO`]`:latest`; dropping it stops the registry.
#[derive(Debug)]
pub struct FixtureRegistry {
    registry: Registry,
    image: PushedImage,
    image_id: String,
}

impl FixtureRegistry {
    /// Starts a registry and pushes the busybox fixture; panics with the
    /// reason (a missing `docker-registry` or `skopeo` names the setup
    /// script) so a test fails loudly instead of skipping.
    pub fn start() -> FixtureRegistry {
        let registry = Registry::start().unwrap_or_else(|e| panic!("starting the registry: {e}"));
        let built = fixtures::cached("busybox");
        let image = registry
            .push_layout(&built.layout_dir, &built.tag, TEST_REPO)
            .unwrap_or_else(|e| panic!("pushing the busybox fixture: {e}"));
        let manifest = read_json_blob(&built.layout_dir, &built.digest)
            .unwrap_or_else(|e| panic!("reading the busybox manifest: {e}"));
        let config = manifest["config"]["digest"]
            .as_str()
            .expect("manifest has a config digest");
        let image_id = config.trim_start_matches("sha256:").to_owned();
        FixtureRegistry {
            registry,
            image,
            image_id,
        }
    }

    /// The registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The fully qualified reference, `127.0.0.1:<port>/testbox:latest`:
    /// what podman shows as a container's image name (ps IMAGE column,
    /// inspect `.ImageName`) whichever way the user spelled it.
    pub fn reference(&self) -> &str {
        &self.image.reference
    }

    /// The short name that resolves to [`FixtureRegistry::reference`]
    /// through the registries.conf that [`crate::husk::Husk::use_registry`]
    /// writes.
    pub fn short_name(&self) -> &'static str {
        TEST_REPO
    }

    /// The image id: the hex of the config digest, as podman reports it
    /// (inspect `.Image`, ps `ImageID`).
    pub fn image_id(&self) -> &str {
        &self.image_id
    }

    /// The manifest digest the registry serves (`sha256:...`).
    pub fn manifest_digest(&self) -> &str {
        &self.image.digest
    }
}
