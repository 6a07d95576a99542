//! linux.resources.hugepageLimits: v1 hugetlb.<size>.limit_in_bytes, v2
//! hugetlb.<size>.max.

use oci_spec::runtime::LinuxHugepageLimit;

use super::target::{write_in, Target};
use crate::error::{Result, RuntimeError};

/// Applies every hugepage limit.
pub(super) fn apply(t: &Target<'_>, limits: &[LinuxHugepageLimit]) -> Result<()> {
    for (i, h) in limits.iter().enumerate() {
        let field = format!("linux.resources.hugepageLimits[{i}]");
        let dir = t.dir("hugetlb", "hugetlb", &field)?;
        let size = h.page_size();
        let (file, value) = if t.v2() {
            let v = if h.limit() < 0 {
                "max".to_string()
            } else {
                h.limit().to_string()
            };
            (format!("hugetlb.{size}.max"), v)
        } else {
            (
                format!("hugetlb.{size}.limit_in_bytes"),
                h.limit().to_string(),
            )
        };
        if !dir.join(&file).exists() {
            return Err(RuntimeError::Spec(format!(
                "{field}.pageSize: this kernel has no {size} huge pages ({} missing)",
                dir.join(&file).display()
            )));
        }
        write_in(&dir, &file, &value, &field)?;
    }
    Ok(())
}
