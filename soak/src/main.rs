//! The soak harness: `cargo run --release -p concur-soak -- --minutes N`.
//! See `harness/` for what it does and checks; the README's "Soak" section
//! has the figures of a 30-minute run.

mod harness;

use std::process::ExitCode;

/// Counts the heap in use, for the leak check beside resident memory.
#[global_allocator]
static ALLOCATOR: harness::heap::Counting = harness::heap::Counting;

fn main() -> ExitCode {
    let args = match harness::args::Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match harness::run::run(&args) {
        Ok(()) => {
            println!("soak passed: nothing lost, nothing stuck, memory within its bound");
            ExitCode::SUCCESS
        }
        Err(problems) => {
            eprintln!("soak FAILED:");
            for p in problems {
                eprintln!("  {p}");
            }
            ExitCode::FAILURE
        }
    }
}
