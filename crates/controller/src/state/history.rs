//! Recent changes, kept in memory so that a watch can resume from a revision without a relist.
//! Like etcd after compaction, a revision older than what is kept answers "expired".

use std::collections::VecDeque;
use std::sync::Arc;

use weft_store::Event;

pub(crate) struct History {
    events: VecDeque<Arc<Event>>,
    capacity: usize,
    /// Every change at or below this revision has been forgotten.
    floor: u64,
}

impl History {
    /// History starts empty at `revision`: what came before is on disk, not in memory.
    pub(crate) fn new(revision: u64, capacity: usize) -> History {
        History {
            events: VecDeque::new(),
            capacity,
            floor: revision,
        }
    }

    pub(crate) fn push(&mut self, event: Arc<Event>) {
        if self.events.len() == self.capacity
            && let Some(old) = self.events.pop_front()
        {
            self.floor = self.floor.max(old.revision);
            // Events of one revision go together: drop the rest of that revision too.
            while self.events.front().is_some_and(|e| e.revision == old.revision) {
                self.events.pop_front();
            }
        }
        self.events.push_back(event);
    }

    /// Events after `revision`, or `Err(oldest)` when some of them were forgotten.
    pub(crate) fn since(&self, revision: u64) -> Result<Vec<Arc<Event>>, u64> {
        if revision < self.floor {
            return Err(self.floor);
        }
        Ok(self.events.iter().filter(|e| e.revision > revision).cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_api::manifest;
    use weft_store::EventType;

    fn event(revision: u64) -> Arc<Event> {
        let object = manifest::parse("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n", "-")
            .unwrap()
            .remove(0);
        Arc::new(Event {
            kind: EventType::Added,
            revision,
            object,
        })
    }

    #[test]
    fn resumes_or_expires() {
        let mut h = History::new(10, 3);
        assert_eq!(h.since(10).unwrap().len(), 0);
        assert_eq!(h.since(9), Err(10));
        for r in 11..=13 {
            h.push(event(r));
        }
        assert_eq!(h.since(11).unwrap().len(), 2);
        h.push(event(14));
        assert_eq!(h.since(10), Err(11));
        assert_eq!(
            h.since(11).unwrap().iter().map(|e| e.revision).collect::<Vec<_>>(),
            [12, 13, 14]
        );
    }
}
