//! The only place that reads the wall clock. Everything else receives "now" as unix seconds,
//! so protocol rules can be tested with a fixed time.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Unix time in whole seconds.
pub type UnixTime = i64;

#[derive(Clone, Debug, Default)]
pub enum Clock {
    /// The real system clock.
    #[default]
    System,
    /// A settable clock for tests.
    Fixed(Arc<AtomicI64>),
}

impl Clock {
    pub fn fixed(at: UnixTime) -> Clock {
        Clock::Fixed(Arc::new(AtomicI64::new(at)))
    }

    pub fn now(&self) -> UnixTime {
        match self {
            Clock::System => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0),
            Clock::Fixed(t) => t.load(Ordering::Relaxed),
        }
    }

    /// Moves a fixed clock forward; no effect on the system clock.
    pub fn advance(&self, secs: i64) {
        if let Clock::Fixed(t) = self {
            t.fetch_add(secs, Ordering::Relaxed);
        }
    }
}
