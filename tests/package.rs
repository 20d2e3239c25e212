//! The Debian package that `cargo deb` builds (.ci/run builds it before the tests): its files
//! and conffiles, listed with `dpkg-deb`. Outside CI, with no package built, the test says
//! loudly that it did not run; in CI a missing package fails it.

use std::path::PathBuf;
use std::process::Command;

use crate::util;

/// The newest `target/debian/vigie_*.deb`, if any.
fn package() -> Option<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| util::root().join("target"));
    let mut debs: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(target.join("debian"))
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("vigie_") && n.ends_with(".deb"))
        })
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
        .collect();
    debs.sort();
    debs.pop().map(|(_, p)| p)
}

fn dpkg_deb(args: &[&str]) -> String {
    let out = Command::new("dpkg-deb")
        .args(args)
        .output()
        .expect("dpkg-deb");
    assert!(out.status.success(), "dpkg-deb {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_deb_holds_the_binary_unit_sysusers_config_rules_and_readme() {
    let Some(deb) = package() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "no target/debian/vigie_*.deb: .ci/run builds it with `cargo deb` before the tests"
        );
        eprintln!("package: NOT RUN: no .deb built (run `cargo deb`; CI builds it)");
        return;
    };
    let listing = dpkg_deb(&["-c", util::s(&deb)]);
    for file in [
        "./usr/bin/vigie",
        "./usr/lib/systemd/system/vigie.service",
        "./usr/lib/sysusers.d/vigie.conf",
        "./etc/vigie/vigie.toml",
        "./etc/vigie/rules/livraison.toml",
        "./etc/vigie/rules/plainte.toml",
        "./usr/share/doc/vigie/README.md",
    ] {
        assert!(
            listing.lines().any(|l| l.ends_with(&format!(" {file}"))),
            "{file} missing from {}:\n{listing}",
            deb.display()
        );
    }
    let conffiles = dpkg_deb(&["-I", util::s(&deb), "conffiles"]);
    for file in ["/etc/vigie/vigie.toml", "/etc/vigie/rules/livraison.toml"] {
        assert!(
            conffiles.lines().any(|l| l.trim() == file),
            "{file} is not a conffile:\n{conffiles}"
        );
    }
    let postinst = dpkg_deb(&["-I", util::s(&deb), "postinst"]);
    assert!(postinst.contains("systemd-sysusers"), "{postinst}");
}
