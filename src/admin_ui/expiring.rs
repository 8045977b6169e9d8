//! A small map whose entries expire and whose size is bounded: the
//! sessions, the pending Instagram authorizations and the login failures
//! are each one. Expired entries are dropped as new ones come; when the map
//! is full, the entry closest to its expiry makes room.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What [`Expiring::take`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Taken<V> {
    Valid(V),
    /// It was there, but past its time (and is gone now).
    Expired,
    /// Never there, already taken, or dropped.
    Unknown,
}

struct Entry<V> {
    expires: Instant,
    value: V,
}

/// A bounded map of entries that expire.
pub struct Expiring<K, V> {
    map: Mutex<HashMap<K, Entry<V>>>,
    cap: usize,
}

impl<K: Eq + Hash + Clone, V: Clone> Expiring<K, V> {
    /// Holds at most `cap` entries (at least one).
    pub fn new(cap: usize) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            cap: cap.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Entry<V>>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps `value` under `key` for `ttl`, replacing what was there.
    pub fn insert(&self, key: K, value: V, ttl: Duration) {
        let now = Instant::now();
        let mut map = self.lock();
        if !map.contains_key(&key) && map.len() >= self.cap {
            map.retain(|_, e| e.expires > now);
            if map.len() >= self.cap
                && let Some(soonest) = map
                    .iter()
                    .min_by_key(|(_, e)| e.expires)
                    .map(|(k, _)| k.clone())
            {
                map.remove(&soonest);
            }
        }
        map.insert(
            key,
            Entry {
                expires: now + ttl,
                value,
            },
        );
    }

    /// The value under `key`, unless it has expired.
    pub fn get(&self, key: &K) -> Option<V> {
        let now = Instant::now();
        let mut map = self.lock();
        match map.get(key) {
            Some(e) if e.expires > now => Some(e.value.clone()),
            Some(_) => {
                map.remove(key);
                None
            }
            None => None,
        }
    }

    /// Changes the value under `key` in place (keeping its expiry); `false`
    /// when there is none or it has expired.
    pub fn update(&self, key: &K, f: impl FnOnce(&mut V)) -> bool {
        let now = Instant::now();
        let mut map = self.lock();
        match map.get_mut(key) {
            Some(e) if e.expires > now => {
                f(&mut e.value);
                true
            }
            _ => false,
        }
    }

    /// Removes the value under `key` and says whether it was still valid:
    /// whatever is found, it can never be taken again.
    pub fn take(&self, key: &K) -> Taken<V> {
        let now = Instant::now();
        match self.lock().remove(key) {
            Some(e) if e.expires > now => Taken::Valid(e.value),
            Some(_) => Taken::Expired,
            None => Taken::Unknown,
        }
    }

    /// Forgets `key`.
    pub fn remove(&self, key: &K) {
        self.lock().remove(key);
    }

    /// Entries held, expired ones not yet dropped included.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_are_taken_once() {
        let m = Expiring::new(10);
        m.insert("a", 1, Duration::from_secs(60));
        m.insert("b", 2, Duration::ZERO);
        assert_eq!(m.get(&"a"), Some(1));
        assert_eq!(m.get(&"b"), None);
        assert!(m.update(&"a", |v| *v = 3));
        assert_eq!(m.take(&"a"), Taken::Valid(3));
        assert_eq!(m.take(&"a"), Taken::Unknown, "single use");
        m.insert("c", 4, Duration::ZERO);
        assert_eq!(m.take(&"c"), Taken::Expired);
        assert_eq!(m.take(&"c"), Taken::Unknown);
    }

    #[test]
    fn the_size_is_bounded_and_the_soonest_to_expire_goes_first() {
        let m = Expiring::new(3);
        m.insert(1, (), Duration::from_secs(30));
        m.insert(2, (), Duration::from_secs(10));
        m.insert(3, (), Duration::from_secs(20));
        m.insert(4, (), Duration::from_secs(40));
        assert_eq!(m.len(), 3);
        assert_eq!(m.get(&2), None, "the one closest to expiry made room");
        assert!(m.get(&1).is_some() && m.get(&3).is_some() && m.get(&4).is_some());
        // Replacing a key does not evict another one.
        m.insert(4, (), Duration::from_secs(50));
        assert_eq!(m.len(), 3);
        // Expired entries make room before live ones.
        let m = Expiring::new(2);
        m.insert(1, (), Duration::ZERO);
        m.insert(2, (), Duration::from_secs(60));
        m.insert(3, (), Duration::from_secs(60));
        assert!(m.get(&2).is_some() && m.get(&3).is_some());
    }
}
