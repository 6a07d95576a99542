//! Helpers shared by the integration tests: walking layouts and reading raw
//! tar headers.

#![allow(dead_code)]

use std::path::Path;

use husk_tests::fixtures::compress::Compression;
use husk_tests::fixtures::layout::{read_blob, read_json_blob, MEDIA_TYPE_INDEX};
use husk_tests::fixtures::read_layout;
use serde_json::Value;

/// One manifest of a layout, with its config and decompressed layers.
pub struct Image {
    pub manifest_digest: String,
    pub platform: Option<Value>,
    pub manifest: Value,
    pub config: Value,
    /// (media type, blob digest, uncompressed tar)
    pub layers: Vec<(String, String, Vec<u8>)>,
}

/// Every manifest a layout's tag reaches (one, or each of an index).
pub fn images(layout: &Path) -> Vec<Image> {
    let top = read_layout(layout).unwrap();
    let mut out = Vec::new();
    let descs: Vec<Value> = if top.media_type == MEDIA_TYPE_INDEX {
        let index = read_json_blob(layout, &top.digest).unwrap();
        index["manifests"].as_array().unwrap().clone()
    } else {
        vec![serde_json::json!({"digest": top.digest})]
    };
    for d in descs {
        let digest = d["digest"].as_str().unwrap().to_owned();
        let manifest = read_json_blob(layout, &digest).unwrap();
        let config =
            read_json_blob(layout, manifest["config"]["digest"].as_str().unwrap()).unwrap();
        let mut layers = Vec::new();
        for l in manifest["layers"].as_array().unwrap() {
            let mt = l["mediaType"].as_str().unwrap().to_owned();
            let ld = l["digest"].as_str().unwrap().to_owned();
            let blob = read_blob(layout, &ld).unwrap();
            assert_eq!(
                blob.len() as u64,
                l["size"].as_u64().unwrap(),
                "{}: size of layer {ld}",
                layout.display()
            );
            let c = Compression::from_media_type(&mt)
                .unwrap_or_else(|| panic!("unexpected layer media type {mt}"));
            layers.push((mt, ld, c.decompress(&blob).unwrap()));
        }
        out.push(Image {
            manifest_digest: digest,
            platform: d.get("platform").cloned(),
            manifest,
            config,
            layers,
        });
    }
    out
}

/// The fields of a raw ustar header block.
#[derive(Debug, Clone)]
pub struct Raw {
    pub offset: usize,
    pub name: Vec<u8>,
    pub typeflag: u8,
    pub size: u64,
    pub linkname: Vec<u8>,
    pub devmajor: u64,
    pub devminor: u64,
    pub mode: u64,
    pub checksum_ok: bool,
}

fn cstr(b: &[u8]) -> Vec<u8> {
    b.iter().take_while(|&&c| c != 0).copied().collect()
}

fn octal(b: &[u8]) -> u64 {
    let s = String::from_utf8_lossy(&cstr(b)).trim().to_owned();
    u64::from_str_radix(&s, 8).unwrap_or(u64::MAX)
}

/// Parses the header block at `offset`.
pub fn raw_header(tar: &[u8], offset: usize) -> Raw {
    let b = &tar[offset..offset + 512];
    let mut name = cstr(&b[345..500]);
    if !name.is_empty() {
        name.push(b'/');
    }
    name.extend(cstr(&b[0..100]));
    let stored = octal(&b[148..156]);
    let sum: u64 = b
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            if (148..156).contains(&i) {
                32
            } else {
                u64::from(c)
            }
        })
        .sum();
    Raw {
        offset,
        name,
        typeflag: b[156],
        size: octal(&b[124..136]),
        linkname: cstr(&b[157..257]),
        devmajor: octal(&b[329..337]),
        devminor: octal(&b[337..345]),
        mode: octal(&b[100..108]),
        checksum_ok: stored == sum,
    }
}

/// Walks headers the way a reader trusting each header's size would, until
/// the end blocks, the end of data, or a block that is not a valid header.
pub fn raw_headers(tar: &[u8]) -> Vec<Raw> {
    let mut out = Vec::new();
    let mut off = 0;
    while off + 512 <= tar.len() {
        if tar[off..off + 512].iter().all(|&b| b == 0) {
            break;
        }
        let h = raw_header(tar, off);
        let ok = h.checksum_ok;
        let size = h.size;
        out.push(h);
        if !ok {
            break;
        }
        off += 512 + (size as usize).div_ceil(512) * 512;
    }
    out
}
