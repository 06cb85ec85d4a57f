//! Running independent jobs side by side on a few threads, results in order.

/// Runs `job` on every item, on up to 4 threads (the machine's cores); the results in
/// the items' order.
pub fn in_parallel<T: Send, R: Send>(items: Vec<T>, job: impl Fn(T) -> R + Sync) -> Vec<R> {
    let threads = threads().min(items.len());
    if threads <= 1 {
        return items.into_iter().map(job).collect();
    }
    let ((), results) = pipeline_on(
        threads,
        |send| {
            for item in items {
                send(item);
            }
        },
        job,
    );
    results
}

/// Runs `job` side by side (like [`in_parallel`]) on the items `produce` hands over through
/// its `send` argument, starting each as soon as it is sent, while `produce` goes on making
/// the next ones on the calling thread. Returns what `produce` returned and the jobs'
/// results in the order the items were sent.
pub fn pipeline<T: Send, R: Send, P>(
    produce: impl FnOnce(&mut dyn FnMut(T)) -> P,
    job: impl Fn(T) -> R + Sync,
) -> (P, Vec<R>) {
    pipeline_on(threads(), produce, job)
}

/// The machine's cores, at most 4.
fn threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(4)
}

fn pipeline_on<T: Send, R: Send, P>(
    threads: usize,
    produce: impl FnOnce(&mut dyn FnMut(T)) -> P,
    job: impl Fn(T) -> R + Sync,
) -> (P, Vec<R>) {
    let (sender, receiver) = std::sync::mpsc::channel::<(usize, T)>();
    let receiver = std::sync::Mutex::new(receiver);
    let next = || receiver.lock().ok().and_then(|items| items.recv().ok());
    let (produced, mut results) = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    while let Some((index, item)) = next() {
                        done.push((index, job(item)));
                    }
                    done
                })
            })
            .collect();
        let mut sent = 0;
        let produced = produce(&mut |item| {
            // The workers outlive the sender, so the send always finds them.
            let _ = sender.send((sent, item));
            sent += 1;
        });
        drop(sender);
        let results: Vec<(usize, R)> = workers
            .into_iter()
            .flat_map(|worker| match worker.join() {
                Ok(done) => done,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect();
        (produced, results)
    });
    results.sort_by_key(|(index, _)| *index);
    (
        produced,
        results.into_iter().map(|(_, result)| result).collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_in_the_items_order() {
        let squares = in_parallel((0..50u64).collect(), |n| {
            std::thread::sleep(std::time::Duration::from_micros(50 - n));
            n * n
        });
        assert_eq!(squares, (0..50u64).map(|n| n * n).collect::<Vec<_>>());
    }

    #[test]
    fn a_pipeline_runs_every_sent_item_once_in_send_order() {
        let (made, doubled) = pipeline(
            |send| {
                for n in 0..40u64 {
                    send(n);
                }
                "made"
            },
            |n| {
                std::thread::sleep(std::time::Duration::from_micros((n * 7) % 13));
                n * 2
            },
        );
        assert_eq!(made, "made");
        assert_eq!(doubled, (0..40u64).map(|n| n * 2).collect::<Vec<_>>());
        let (_, none) = pipeline(|_send| (), |n: u64| n);
        assert!(none.is_empty());
    }
}
