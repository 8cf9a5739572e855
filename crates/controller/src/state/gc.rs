//! Garbage collection of addresses whose owner is gone: a pod deleted while the controller was
//! down, a CNI ADD whose pod never got written. Without it such addresses would leak forever.

use std::time::Duration;

use weft_api::ResourceKey;
use weft_api::wire::AllocationInfo;

use super::ops::info;
use super::{Command, Handle, State};
use crate::ControllerError;

impl State {
    /// Releases allocations older than the grace period whose owner object does not exist.
    /// Owners that are not object keys are left alone: someone else manages those.
    pub(crate) fn collect_garbage(&mut self) -> Result<Vec<AllocationInfo>, ControllerError> {
        let now = jiff::Timestamp::now();
        let grace = i64::try_from(self.gc_grace.as_secs()).unwrap_or(i64::MAX);
        let mut orphans = Vec::new();
        for a in self.store.allocations()? {
            let Ok(key) = a.owner.parse::<ResourceKey>() else {
                continue;
            };
            let age = now.as_second() - a.allocated_at.as_second();
            if age >= grace && self.store.get(&key)?.is_none() {
                orphans.push(a);
            }
        }
        if orphans.is_empty() {
            return Ok(orphans.into_iter().map(info).collect());
        }
        let mut pools = self.pools.clone();
        let (_, events) = self.store.write(|txn| {
            for a in &orphans {
                if let Some(pool) = pools.get_mut(&a.pool) {
                    pool.release(a.address);
                }
                txn.remove_allocation(&a.pool, a.address)?;
            }
            Ok::<_, ControllerError>(())
        })?;
        self.pools = pools;
        self.publish(events);
        for a in &orphans {
            tracing::info!(pool = %a.pool, address = %a.address, owner = %a.owner, "released an address whose owner is gone");
        }
        Ok(orphans.into_iter().map(info).collect())
    }
}

/// Runs a collection every `interval`, for as long as the controller runs.
pub async fn gc_loop(handle: Handle, interval: Duration) {
    let mut tick = tokio::time::interval(interval);
    tick.tick().await;
    loop {
        tick.tick().await;
        match handle.call(|reply| Command::CollectGarbage { reply }).await {
            Ok(_) => {}
            Err(ControllerError::Stopped) => return,
            Err(e) => tracing::warn!(error = %e, "address garbage collection failed"),
        }
    }
}
