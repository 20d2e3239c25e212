//! Shared test helpers: run the real `vigie` binary, compare whole outputs with a framed diff.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub mod client;
pub mod http;
pub mod smtp;

/// The text of the recorded response `tests/fixtures/<dir>/<name>`.
pub fn fixture(dir: &str, name: &str) -> String {
    let path = root().join("tests/fixtures").join(dir).join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The result of one `vigie` run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `vigie ARGS` with `stdin`, from the repository root, without `VIGIE_CONFIG`.
pub fn vigie(args: &[&str], stdin: &str) -> Run {
    vigie_env(args, stdin, &[])
}

/// [`vigie`] with these environment variables set.
pub fn vigie_env(args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(args)
        .current_dir(root())
        .env_remove("VIGIE_CONFIG")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn vigie");
    let mut input = child.stdin.take().expect("stdin");
    let data = stdin.as_bytes().to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().expect("wait vigie");
    writer.join().expect("stdin writer");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// Runs vigie with its standard output closed before it writes anything, as `vigie … | head`
/// once `head` has had enough: the exit code and what it printed on stderr.
pub fn vigie_into_closed_pipe(args: &[&str]) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(args)
        .current_dir(root())
        .env_remove("VIGIE_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn vigie");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait vigie");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Writes `files` (relative path, contents) under a new temporary directory.
pub fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, contents) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, contents).expect("write");
    }
    dir
}

/// A path as a `&str` for command lines.
pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Asserts two multi-line strings are equal, printing both framed when they are not.
#[macro_export]
macro_rules! eq_golden {
    ($want:expr, $got:expr) => {{
        let (want, got): (&str, &str) = (&$want, &$got);
        if want != got {
            let bar = "-".repeat(70);
            panic!("\n{bar}\nexpected:\n{bar}\n{want}\n{bar}\ngot:\n{bar}\n{got}\n{bar}\n");
        }
    }};
}

/// A copy of the shipped configuration in a new temporary directory, layout kept
/// (`config/vigie.toml`, `config/demo/posts.jsonl`, `config/examples/*.toml`, `rules/*.toml`).
/// Only those kinds of files are copied, so a database, lock or WAL that running the README's
/// demo left in the checkout is not: tests never depend on or write into the checkout's state.
pub fn shipped_tree() -> tempfile::TempDir {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).expect("mkdir");
        for e in std::fs::read_dir(from).expect("read shipped dir").flatten() {
            let (src, dst) = (e.path(), to.join(e.file_name()));
            if src.is_dir() {
                copy(&src, &dst);
            } else if src.extension().is_some_and(|x| x == "toml" || x == "jsonl") {
                std::fs::copy(&src, &dst).expect("copy shipped file");
            }
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    for sub in ["config", "rules"] {
        copy(&root().join(sub), &dir.path().join(sub));
    }
    dir
}
