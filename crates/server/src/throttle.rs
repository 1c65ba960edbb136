//! Login throttling: growing delays, then a temporary lockout, per account
//! name and per client address.
//!
//! A few failures are free (people mistype); after that each failure locks
//! the key for twice as long as the last, up to a ceiling. While a key is
//! locked the server answers 429 with `Retry-After` without looking at the
//! password, so guessing costs the attacker time and the server nothing.
//! Unknown account names are throttled exactly like known ones, so the
//! lockout does not tell them apart either. A success clears the account.
//! The table is bounded: stale keys are purged, and when it is full the
//! oldest are dropped.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How one kind of key is throttled.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Failures allowed before the first lockout.
    pub free: u32,
    /// The first lockout; each further failure doubles it.
    pub base: Duration,
    /// The longest lockout.
    pub max: Duration,
}

impl Policy {
    fn lock_for(&self, failures: u32) -> Option<Duration> {
        let over = failures.checked_sub(self.free)?;
        if over == 0 {
            return None;
        }
        let factor = 1u32 << (over - 1).min(20);
        Some(self.base.saturating_mul(factor).min(self.max))
    }
}

/// The throttle's settings: accounts, client addresses.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub account: Policy,
    /// Addresses are looser than accounts: a control room may sit behind
    /// one address.
    pub address: Policy,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            account: Policy {
                free: 5,
                base: Duration::from_secs(1),
                max: Duration::from_secs(15 * 60),
            },
            address: Policy {
                free: 30,
                base: Duration::from_secs(1),
                max: Duration::from_secs(15 * 60),
            },
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Account(String),
    Address(IpAddr),
}

/// What a failure did to a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lockout {
    /// The key just became locked after being free: audit this once.
    Started(String),
    None,
}

const MAX_KEYS: usize = 100_000;

pub struct Throttle {
    settings: Settings,
    map: Mutex<HashMap<Key, Record>>,
}

impl Throttle {
    pub fn new(settings: Settings) -> Self {
        Self {
            settings,
            map: Mutex::new(HashMap::new()),
        }
    }

    fn policy(&self, k: &Key) -> Policy {
        match k {
            Key::Account(_) => self.settings.account,
            Key::Address(_) => self.settings.address,
        }
    }

    fn keys(account: &str, address: Option<IpAddr>) -> Vec<Key> {
        let mut keys = vec![Key::Account(account.trim().to_lowercase())];
        keys.extend(address.map(Key::Address));
        keys
    }

    /// How long the caller must wait before this login may be tried, if
    /// it must.
    pub fn wait(&self, account: &str, address: Option<IpAddr>) -> Option<Duration> {
        let now = Instant::now();
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        Self::keys(account, address)
            .iter()
            .filter_map(|k| map.get(k)?.locked_until)
            .filter(|until| *until > now)
            .map(|until| until - now)
            .max()
    }

    /// Counts a failed login; says whether a lockout began (for the audit
    /// log: one entry per lockout, not per attempt).
    pub fn failed(&self, account: &str, address: Option<IpAddr>) -> Vec<Lockout> {
        let now = Instant::now();
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_KEYS {
            self.purge(&mut map, now);
        }
        Self::keys(account, address)
            .into_iter()
            .map(|k| {
                let policy = self.policy(&k);
                let r = map.entry(k.clone()).or_insert(Record {
                    failures: 0,
                    last: now,
                    locked_until: None,
                });
                // A key quiet for longer than the longest lockout starts over.
                if now.duration_since(r.last) > policy.max {
                    r.failures = 0;
                }
                r.failures += 1;
                r.last = now;
                let lock = policy.lock_for(r.failures);
                r.locked_until = lock.map(|d| now + d);
                match (lock, r.failures == policy.free + 1) {
                    (Some(_), true) => Lockout::Started(match &k {
                        Key::Account(a) => format!("account {a}"),
                        Key::Address(ip) => format!("address {ip}"),
                    }),
                    _ => Lockout::None,
                }
            })
            .collect()
    }

    /// A successful login clears its account (the address keeps its count:
    /// one good password must not reset a spray over many accounts).
    pub fn succeeded(&self, account: &str) {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&Key::Account(account.trim().to_lowercase()));
    }

    fn purge(&self, map: &mut HashMap<Key, Record>, now: Instant) {
        map.retain(|k, r| now.duration_since(r.last) <= self.policy(k).max);
        if map.len() >= MAX_KEYS {
            let mut ages: Vec<Instant> = map.values().map(|r| r.last).collect();
            ages.sort();
            let cut = ages[ages.len() / 2];
            map.retain(|_, r| r.last > cut);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quick() -> Settings {
        let p = Policy {
            free: 3,
            base: Duration::from_millis(40),
            max: Duration::from_millis(200),
        };
        Settings {
            account: p,
            address: Policy { free: 6, ..p },
        }
    }

    #[test]
    fn delays_grow_then_cap_and_success_clears_the_account() {
        let p = quick().account;
        assert_eq!(p.lock_for(3), None);
        assert_eq!(p.lock_for(4), Some(Duration::from_millis(40)));
        assert_eq!(p.lock_for(5), Some(Duration::from_millis(80)));
        assert_eq!(p.lock_for(40), Some(Duration::from_millis(200)));
        let t = Throttle::new(quick());
        for _ in 0..3 {
            assert!(t.wait("Alice", None).is_none());
            t.failed("alice", None);
        }
        assert!(t.wait("alice", None).is_none());
        let l = t.failed("alice", None);
        assert_eq!(l, vec![Lockout::Started("account alice".into())]);
        assert!(t.wait("ALICE", None).is_some(), "names are case-folded");
        // The next failure is another step of the same lockout: not audited again.
        assert_eq!(t.failed("alice", None), vec![Lockout::None]);
        t.succeeded("alice");
        assert!(t.wait("alice", None).is_none());
    }

    #[test]
    fn an_address_spraying_many_accounts_is_locked() {
        let t = Throttle::new(quick());
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        for i in 0..6 {
            t.failed(&format!("user{i}"), Some(ip));
        }
        assert!(t.wait("someone-else", Some(ip)).is_none());
        t.failed("user-x", Some(ip));
        assert!(t.wait("someone-else", Some(ip)).is_some());
        assert!(t.wait("someone-else", None).is_none());
    }
}
