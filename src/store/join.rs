//! Waits on several store calls at once: a listing that reads the pins written since the last
//! count reads them together, so it waits about one round trip, not one per pin.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::Poll;

/// A future, and its output once it is done.
type Slot<F> = (Pin<Box<F>>, Option<<F as Future>::Output>);

/// Every future's output, in order. (Workers run one thread: nothing here needs `Send`.)
pub async fn all<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut slots: Vec<Slot<F>> = futures.into_iter().map(|f| (Box::pin(f), None)).collect();
    poll_fn(|cx| {
        let mut waiting = false;
        for (future, out) in slots.iter_mut().filter(|(_, out)| out.is_none()) {
            match future.as_mut().poll(cx) {
                Poll::Ready(value) => *out = Some(value),
                Poll::Pending => waiting = true,
            }
        }
        if waiting {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    slots
        .into_iter()
        .map(|(_, out)| out.expect("every future is done"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::task::{Context, Waker};

    /// Ready after `n` polls, counting each poll in `polls`.
    async fn after(n: u32, value: u32, polls: &Cell<u32>) -> u32 {
        let mut left = n;
        poll_fn(|cx| {
            polls.set(polls.get() + 1);
            if left == 0 {
                return Poll::Ready(value);
            }
            left -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        })
        .await
    }

    #[test]
    fn outputs_in_order_and_each_done_future_is_left_alone() {
        let polls = Cell::new(0);
        let joined = all([
            after(3, 1, &polls),
            after(0, 2, &polls),
            after(1, 3, &polls),
        ]);
        let mut joined = std::pin::pin!(joined);
        let mut cx = Context::from_waker(Waker::noop());
        let mut rounds = 0;
        let out = loop {
            rounds += 1;
            if let Poll::Ready(v) = joined.as_mut().poll(&mut cx) {
                break v;
            }
        };
        assert_eq!(out, vec![1, 2, 3]);
        assert_eq!(rounds, 4, "as long as the slowest, not the sum");
        assert_eq!(polls.get(), 4 + 1 + 2);
    }
}
