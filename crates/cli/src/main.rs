//! The `trailproof` binary: thin glue over the library crates.

mod args;
mod cmd_check;
mod cmd_collect;
mod cmd_correlate;
mod cmd_demo;
mod cmd_emulate;
mod cmd_import;
mod cmd_lookup;
mod cmd_notify;
mod cmd_prune;
mod cmd_report;
mod cmd_run;
mod cmd_simulate;
mod cmd_status;
mod demo_sink;
mod util;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Die quietly on a closed pipe (`trailproof report | head`), as Unix tools do, instead of
    // panicking inside println!.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // Freed memory goes back to the system as it is freed, so the peak follows what is live
    // (trailproof_pipeline::memory); before any thread exists.
    trailproof_pipeline::memory::release_freed_memory_promptly();
    let cli = args::Cli::parse();
    util::init_tracing(cli.global.verbose, cli.global.quiet);
    if let Some(why) = util::unsupported_db(&cli.global.db) {
        eprintln!("error: {why}");
        return ExitCode::from(util::EXIT_USAGE);
    }
    let result = match &cli.command {
        args::Command::Import(a) => cmd_import::run(&cli.global, a),
        args::Command::Status(a) => cmd_status::run(&cli.global, a),
        args::Command::Correlate(a) => cmd_correlate::run(&cli.global, a),
        args::Command::Report(a) => cmd_report::run(&cli.global, a),
        args::Command::Lookup(a) => cmd_lookup::run(&cli.global, a),
        args::Command::Emulate(a) => cmd_emulate::run(&cli.global, a),
        args::Command::Simulate(a) => cmd_simulate::run(&cli.global, a),
        args::Command::Demo(a) => cmd_demo::run(&cli.global, a),
        args::Command::Collect(a) => cmd_collect::run(&cli.global, a),
        args::Command::Check => cmd_check::run(&cli.global),
        args::Command::Run(a) => cmd_run::run(&cli.global, a),
        args::Command::Notify(a) => cmd_notify::run(&cli.global, a),
        args::Command::Prune(a) => cmd_prune::run(&cli.global, a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", util::inert_lines(&util::error_chain(&e)));
            ExitCode::from(util::EXIT_FAILURE)
        }
    }
}
