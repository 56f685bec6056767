//! Replays every fuzz target on stable: the checked-in corpus
//! (`fuzz/corpus/<target>`, which includes the inputs of every crash found
//! and fixed) and a fixed set of pseudo-random inputs per target.
//! `CONCUR_FUZZ_INPUTS` scales the pseudo-random count (default 1.0).

use std::path::PathBuf;

use concur_fuzz_harness::TARGETS;

fn run_of(name: &str) -> fn(&[u8]) {
    TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .expect("a target")
        .1
}

/// splitmix64: a small, fixed, good-enough generator for input bytes.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn replay(name: &str, random_inputs: usize) {
    let run = run_of(name);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../corpus")
        .join(name);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .map(|entry| entry.expect("a corpus entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus for {name}");
    for file in &files {
        let data = std::fs::read(file).expect("a corpus file");
        eprintln!("replaying {}", file.display());
        run(&data);
    }
    let scale: f64 = std::env::var("CONCUR_FUZZ_INPUTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let count = (random_inputs as f64 * scale) as usize;
    let mut state = name
        .bytes()
        .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(b.into()));
    for i in 0..count {
        let len = (next(&mut state) % 400) as usize;
        let data: Vec<u8> = (0..len).map(|_| next(&mut state) as u8).collect();
        let outcome = std::panic::catch_unwind(|| run(&data));
        if let Err(panic) = outcome {
            eprintln!("{name}: pseudo-random input {i} failed: {data:?}");
            std::panic::resume_unwind(panic);
        }
    }
    eprintln!(
        "{name}: {} corpus inputs, {count} pseudo-random",
        files.len()
    );
}

#[test]
fn semaphore() {
    replay("semaphore", 3000);
}

#[test]
fn semaphore_barging() {
    replay("semaphore_barging", 3000);
}

#[test]
fn waitlist() {
    replay("waitlist", 3000);
}

#[test]
fn context() {
    replay("context", 2000);
}

#[test]
fn rwlock() {
    replay("rwlock", 3000);
}

#[test]
fn group() {
    replay("group", 400);
}

#[test]
fn threads() {
    replay("threads", 300);
}

#[test]
fn condvar() {
    replay("condvar", 3000);
}

#[test]
fn futures() {
    replay("futures", 3000);
}
