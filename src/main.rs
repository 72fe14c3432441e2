//! The `portcullis` binary: the gateway, its mock provider, and config checks.

mod cli;

use std::cell::Cell;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;

#[cfg(not(feature = "system-alloc"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How often, at most, an idle worker hands its freed memory back to the OS.
const COLLECT_EVERY: Duration = Duration::from_secs(1);

/// Called as a worker goes idle. mimalloc returns a thread's freed pages to the OS only as that
/// thread allocates again, so a worker that goes quiet after a burst would keep the burst's
/// memory resident; collecting here (at most every [`COLLECT_EVERY`] per thread, a clock read
/// otherwise) gives it back.
#[allow(unsafe_code)]
fn return_freed_memory() {
    if cfg!(feature = "system-alloc") {
        return;
    }
    thread_local!(static LAST: Cell<Option<Instant>> = const { Cell::new(None) });
    let now = Instant::now();
    if LAST
        .get()
        .is_some_and(|t| now.duration_since(t) < COLLECT_EVERY)
    {
        return;
    }
    LAST.set(Some(now));
    // SAFETY: `mi_collect` only releases memory the calling thread's heap no longer uses.
    unsafe { libmimalloc_sys::mi_collect(true) };
}

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    cli::init_tracing(args.log.as_deref());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_park(return_freed_memory)
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
