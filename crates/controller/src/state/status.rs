//! Status written by the controller itself (the BGP speaker's view of each BGPPeer, what each
//! VirtualNetwork imported): only the
//! status changes, so the generation stays and nothing that follows specs reacts.

use weft_api::Resource;
use weft_store::{Precondition, StoreError};

use super::State;
use crate::ControllerError;

impl State {
    /// Replaces the stored object's status with `resource`'s; `None` when it already was that.
    pub(crate) fn write_status(&mut self, resource: Resource) -> Result<Option<Resource>, ControllerError> {
        let key = resource.key();
        let (written, events) = self.store.write(|txn| {
            let Some(mut stored) = txn.get(&key)? else {
                return Err(ControllerError::Store(StoreError::NotFound { key: key.clone() }));
            };
            match (&mut stored, resource) {
                (Resource::BGPPeer(old), Resource::BGPPeer(new)) => {
                    if old.status == new.status {
                        return Ok(None);
                    }
                    old.status = new.status;
                }
                (Resource::VirtualNetwork(old), Resource::VirtualNetwork(new)) => {
                    if old.status == new.status {
                        return Ok(None);
                    }
                    old.status = new.status;
                }
                (_, other) => {
                    return Err(ControllerError::BadRequest(format!(
                        "{}: the controller writes the status of BGPPeers and VirtualNetworks only",
                        other.key()
                    )));
                }
            }
            let (_, stored) = txn.put(stored, Precondition::Present)?;
            Ok::<_, ControllerError>(Some(stored))
        })?;
        self.publish(events);
        Ok(written)
    }
}
