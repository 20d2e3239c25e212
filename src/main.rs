//! The `vigie` binary: parse the command line, run it, map the outcome to an exit code.
//!
//! This is the only place that decides exit codes (SPEC §2): 0 ok, 1 runtime failure, 2 usage
//! or invalid config/rules. Clap exits 2 on usage errors by itself.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = vigie::cli::Cli::parse();
    match vigie::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(invalid) = e.downcast_ref::<vigie::cli::Invalid>() {
                eprintln!("{invalid}");
                return ExitCode::from(2);
            }
            // `vigie match … | head` closes the pipe early: not an error.
            if broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("vigie: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Whether the error is a write to a closed pipe, wherever in the chain: straight from a
/// writer, or through the JSON serializer that was writing.
fn broken_pipe(e: &anyhow::Error) -> bool {
    use std::io::ErrorKind::BrokenPipe;
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == BrokenPipe)
            || cause
                .downcast_ref::<serde_json::Error>()
                .and_then(|j| j.io_error_kind())
                == Some(BrokenPipe)
    })
}
