//! Damping of automatic restarts (RFC 4271 §8.1.1 DampPeerOscillations, IdleHoldTimer): the
//! delay doubles after each failure, up to a maximum.

use std::time::Duration;

use crate::fsm::config::IdleHoldConfig;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Backoff {
    config: IdleHoldConfig,
    next: Duration,
}

impl Backoff {
    pub(crate) fn new(config: IdleHoldConfig) -> Backoff {
        Backoff {
            next: config.initial,
            config,
        }
    }

    /// The delay for this failure; the next one will be twice as long (at most the maximum).
    pub(crate) fn failure(&mut self) -> Duration {
        let delay = self.next;
        self.next = delay.saturating_mul(2).min(self.config.max).max(self.config.initial);
        delay
    }

    /// The delay the next failure will get.
    pub(crate) fn peek(&self) -> Duration {
        self.next
    }

    pub(crate) fn reset(&mut self) {
        self.next = self.config.initial;
    }

    /// A session that was up at least this long starts over.
    pub(crate) fn stable(&self) -> Duration {
        self.config.stable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_maximum() {
        let mut b = Backoff::new(IdleHoldConfig::default());
        let delays: Vec<u64> = (0..9).map(|_| b.failure().as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        b.reset();
        assert_eq!(b.failure(), Duration::from_secs(1));
        let mut none = Backoff::new(IdleHoldConfig {
            initial: Duration::ZERO,
            ..IdleHoldConfig::default()
        });
        assert_eq!(none.failure(), Duration::ZERO);
        assert_eq!(none.failure(), Duration::ZERO);
    }
}
