//! A thin layer over ureq's transport that drops system calls a tool call does not
//! need. Per request ureq otherwise makes two `setsockopt` calls, since the time left
//! of the global timeout is a new value every time, and probes the pooled connection
//! twice (when it goes back to the pool and when it is taken out, three calls each),
//! which together were most of the syscalls of a tool call.

use std::time::{Duration, Instant};

use ureq::Error;
use ureq::unversioned::transport::time::Duration as Left;
use ureq::unversioned::transport::{Buffers, ConnectionDetails, Connector, NextTimeout, Transport};

/// A probe that found the connection open this recently stands for the next one.
/// Nothing is read or written in between, so a second probe could only see what
/// arrived since, as the first could have missed what arrived just after it; ureq's
/// own probe and write are also this far apart under load.
const PROBE_VALID_FOR: Duration = Duration::from_millis(1);

/// Chained after ureq's connectors (TCP, proxy, TLS): wraps what they built.
#[derive(Debug)]
pub struct LeanConnector;

impl<In: Transport> Connector<In> for LeanConnector {
    type Out = Lean<In>;

    fn connect(&self, _: &ConnectionDetails, chained: Option<In>) -> Result<Option<Lean<In>>, Error> {
        Ok(chained.map(|inner| Lean {
            inner,
            probed_open: None,
        }))
    }
}

#[derive(Debug)]
pub struct Lean<T> {
    inner: T,
    /// When a probe last found the connection open, if no I/O happened since.
    probed_open: Option<Instant>,
}

impl<T: Transport> Transport for Lean<T> {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), Error> {
        self.probed_open = None;
        self.inner.transmit_output(amount, coarse(timeout))
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
        self.probed_open = None;
        self.inner.await_input(coarse(timeout))
    }

    fn is_open(&mut self) -> bool {
        if self.probed_open.is_some_and(|at| at.elapsed() < PROBE_VALID_FOR) {
            return true;
        }
        let open = self.inner.is_open();
        self.probed_open = open.then(Instant::now);
        open
    }

    // ureq refuses an https:// request whose transport does not say it is TLS.
    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}

/// The time left, rounded down to its 7 leading bits (at most 1/64 less): calls a
/// moment apart then ask for the same socket timeout, and ureq sets it only when it
/// changes. A timeout fires at most 1.6% early, never late.
fn coarse(mut timeout: NextTimeout) -> NextTimeout {
    if let Left::Exact(d) = timeout.after {
        timeout.after = Left::Exact(round_down(d));
    }
    timeout
}

fn round_down(d: Duration) -> Duration {
    let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    let shift = (u64::BITS - nanos.leading_zeros()).saturating_sub(7);
    Duration::from_nanos(nanos >> shift << shift)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ureq::unversioned::transport::LazyBuffers;

    /// Counts the probes that reach it and keeps the timeouts it was given.
    #[derive(Debug)]
    struct Counting {
        buffers: LazyBuffers,
        open: bool,
        probes: usize,
        timeouts: Vec<Left>,
    }

    impl Transport for Counting {
        fn buffers(&mut self) -> &mut dyn Buffers {
            &mut self.buffers
        }
        fn transmit_output(&mut self, _: usize, timeout: NextTimeout) -> Result<(), Error> {
            self.timeouts.push(timeout.after);
            Ok(())
        }
        fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
            self.timeouts.push(timeout.after);
            Ok(true)
        }
        fn is_open(&mut self) -> bool {
            self.probes += 1;
            self.open
        }
    }

    fn lean(open: bool) -> Lean<Counting> {
        Lean {
            inner: Counting {
                buffers: LazyBuffers::new(16, 16),
                open,
                probes: 0,
                timeouts: Vec::new(),
            },
            probed_open: None,
        }
    }

    fn after(d: Duration) -> NextTimeout {
        NextTimeout {
            after: Left::Exact(d),
            ..NextTimeout::default()
        }
    }

    #[test]
    fn a_probe_stands_for_the_next_only_briefly_and_only_without_io_between() {
        let mut t = lean(true);
        // Back to the pool, then out of it at once: one probe.
        assert!(t.is_open() && t.is_open());
        assert_eq!(t.inner.probes, 1);
        // Anything read or written since: probed again.
        t.transmit_output(0, after(Duration::from_secs(1))).unwrap();
        assert!(t.is_open());
        assert_eq!(t.inner.probes, 2);
        t.await_input(after(Duration::from_secs(1))).unwrap();
        assert!(t.is_open());
        assert_eq!(t.inner.probes, 3);
        // A pause longer than the window: probed again.
        std::thread::sleep(PROBE_VALID_FOR * 3);
        assert!(t.is_open());
        assert_eq!(t.inner.probes, 4);
        // A connection found closed is never taken as open on the next probe.
        let mut closed = lean(false);
        assert!(!closed.is_open() && !closed.is_open());
        assert_eq!(closed.inner.probes, 2);
    }

    #[test]
    fn the_transport_below_gets_the_rounded_timeout() {
        let mut t = lean(true);
        let d = Duration::from_millis(29_999) + Duration::from_nanos(123_456);
        t.transmit_output(0, after(d)).unwrap();
        t.await_input(NextTimeout::default()).unwrap();
        assert_eq!(t.inner.timeouts, [Left::Exact(round_down(d)), Left::NotHappening]);
        assert!(round_down(d) < d);
    }

    #[test]
    fn timeouts_round_down_by_less_than_a_64th() {
        for nanos in [
            0u64,
            1,
            127,
            128,
            129,
            1_000_000,
            499_999_999,
            30_000_000_000,
            u64::MAX,
        ] {
            let d = Duration::from_nanos(nanos);
            let r = round_down(d);
            assert!(r <= d, "{d:?} -> {r:?}");
            assert!(d - r <= d / 64, "{d:?} -> {r:?}");
        }
        // What a call a moment later asks for is the same value.
        let a = round_down(Duration::from_millis(30_000) - Duration::from_micros(180));
        let b = round_down(Duration::from_millis(30_000) - Duration::from_micros(420));
        assert_eq!(a, b);
    }
}
