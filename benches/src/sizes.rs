//! Sizes in bytes of each concur primitive next to its counterparts.

use std::mem::size_of;

/// One row: what it is, then (library, size) for each implementation.
pub struct SizeRow {
    /// The primitive.
    pub primitive: &'static str,
    /// `(implementation, bytes)`, concur first; `None` where a library has
    /// no counterpart.
    pub sizes: Vec<(&'static str, Option<usize>)>,
}

/// The implementations compared, in column order.
pub const COLUMNS: [&str; 5] = ["concur", "std", "parking_lot", "tokio", "other"];

/// The size table.
pub fn table() -> Vec<SizeRow> {
    let row = |primitive, sizes: [Option<usize>; 5]| SizeRow {
        primitive,
        sizes: COLUMNS.into_iter().zip(sizes).collect(),
    };
    vec![
        row(
            "Mutex<()>",
            [
                Some(size_of::<concur_sync::Mutex<()>>()),
                Some(size_of::<std::sync::Mutex<()>>()),
                Some(size_of::<parking_lot::Mutex<()>>()),
                Some(size_of::<tokio::sync::Mutex<()>>()),
                None,
            ],
        ),
        row(
            "RwLock<()>",
            [
                Some(size_of::<concur_sync::RwLock<()>>()),
                Some(size_of::<std::sync::RwLock<()>>()),
                Some(size_of::<parking_lot::RwLock<()>>()),
                Some(size_of::<tokio::sync::RwLock<()>>()),
                None,
            ],
        ),
        row(
            "Semaphore (other: async-lock)",
            [
                Some(size_of::<concur_sync::Semaphore>()),
                None,
                None,
                Some(size_of::<tokio::sync::Semaphore>()),
                Some(size_of::<async_lock::Semaphore>()),
            ],
        ),
        row(
            "WaitGroup (other: crossbeam, an Arc)",
            [
                Some(size_of::<concur_sync::WaitGroup>()),
                None,
                None,
                None,
                Some(size_of::<crossbeam_utils::sync::WaitGroup>()),
            ],
        ),
        row(
            "Once<()> / OnceLock<()>",
            [
                Some(size_of::<concur_sync::Once<()>>()),
                Some(size_of::<std::sync::OnceLock<()>>()),
                Some(size_of::<parking_lot::Once>()),
                Some(size_of::<tokio::sync::OnceCell<()>>()),
                None,
            ],
        ),
        row(
            "Condvar (std, parking_lot)",
            [
                Some(size_of::<concur_sync::Condvar>()),
                Some(size_of::<std::sync::Condvar>()),
                Some(size_of::<parking_lot::Condvar>()),
                None,
                None,
            ],
        ),
        row(
            "Context (other: none)",
            [
                Some(size_of::<concur_sync::Context>()),
                None,
                None,
                None,
                None,
            ],
        ),
    ]
}
