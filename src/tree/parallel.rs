//! Work on independent items (profiles) spread over all cores, one
//! contiguous chunk of the items per thread.

use std::num::NonZeroUsize;
use std::thread;

use anyhow::Result;

/// `f` of every item, in the items' order; the first error (in chunk order)
/// if any fails.
pub fn map<I: Sync, T: Send>(items: &[I], f: impl Fn(&I) -> Result<T> + Sync) -> Result<Vec<T>> {
    let f = &f;
    thread::scope(|scope| {
        let workers: Vec<_> = chunks(items)
            .map(|chunk| scope.spawn(move || chunk.iter().map(f).collect::<Result<Vec<T>>>()))
            .collect();
        let mut results = Vec::with_capacity(items.len());
        for worker in workers {
            results.extend(worker.join().expect("workers do not panic")?);
        }
        Ok(results)
    })
}

/// `f` of every item, in no fixed order; stops a thread at its first error.
pub fn for_each<I: Sync>(items: &[I], f: impl Fn(&I) -> Result<()> + Sync) -> Result<()> {
    map(items, |item| f(item)).map(drop)
}

fn chunks<I>(items: &[I]) -> std::slice::Chunks<'_, I> {
    let threads = thread::available_parallelism()
        .map_or(1, NonZeroUsize::get)
        .clamp(1, items.len().max(1));
    items.chunks(items.len().div_ceil(threads).max(1))
}
