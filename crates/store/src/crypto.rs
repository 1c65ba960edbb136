//! Media encryption at rest, with one data key per Deployment and purpose.
//!
//! Every image is sealed with AES-256-GCM under a data key; data keys are
//! stored wrapped (encrypted) by the master key, which never touches the
//! database. Destroying a data key makes every image sealed under it
//! unreadable, wherever copies of the ciphertext survive (backups,
//! replicas): crypto-shredding, which is what makes deletion provable.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use rand::RngCore;

use crate::StoreError;

const NONCE: usize = 12;

/// The key that wraps every data key. Supplied from outside the database
/// (`VIGIL_MASTER_KEY`, or a key file beside a demo database).
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    pub fn generate() -> Self {
        let mut k = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        Self(k)
    }

    pub fn from_hex(s: &str) -> Result<Self, StoreError> {
        let bytes = hex::decode(s.trim())
            .map_err(|e| StoreError::Crypto(format!("master key is not hex: {e}")))?;
        let arr: [u8; 32] = bytes.try_into().map_err(|_| {
            StoreError::Crypto("master key must be 32 bytes (64 hex digits)".into())
        })?;
        Ok(Self(arr))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// A key for one purpose, derived from the master key (HMAC-SHA256 of
    /// the purpose): the audit chain's MAC key and the checkpoint signing
    /// key never exist anywhere but here and in memory.
    pub(crate) fn subkey(&self, purpose: &str) -> [u8; 32] {
        use hmac::Mac;
        let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.0)
            .expect("HMAC takes a key of any length");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    pub(crate) fn wrap(&self, key_id: &str, data_key: &[u8; 32]) -> Result<Vec<u8>, StoreError> {
        seal(&self.0, key_id.as_bytes(), data_key)
    }

    pub(crate) fn unwrap(&self, key_id: &str, wrapped: &[u8]) -> Result<[u8; 32], StoreError> {
        let plain = open(&self.0, key_id.as_bytes(), wrapped)?;
        plain
            .try_into()
            .map_err(|_| StoreError::Crypto(format!("data key {key_id} has the wrong length")))
    }
}

pub(crate) fn new_data_key() -> [u8; 32] {
    let mut k = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut k);
    k
}

/// nonce || ciphertext+tag. `aad` binds the ciphertext to its record id, so
/// sealed blobs cannot be swapped between records.
pub(crate) fn seal(key: &[u8; 32], aad: &[u8], plain: &[u8]) -> Result<Vec<u8>, StoreError> {
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
    let mut nonce = [0u8; NONCE];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let ct = cipher
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain, aad })
        .map_err(|_| StoreError::Crypto("encryption failed".into()))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&ct);
    Ok(out)
}

pub(crate) fn open(key: &[u8; 32], aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
    if sealed.len() < NONCE + 16 {
        return Err(StoreError::Crypto("sealed data is too short".into()));
    }
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
    cipher
        .decrypt(
            Nonce::from_slice(&sealed[..NONCE]),
            Payload {
                msg: &sealed[NONCE..],
                aad,
            },
        )
        .map_err(|_| StoreError::Crypto("decryption failed: wrong key or tampered data".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_tamper_detection() {
        let k = new_data_key();
        let sealed = seal(&k, b"media-1", b"face pixels").unwrap();
        assert_eq!(open(&k, b"media-1", &sealed).unwrap(), b"face pixels");
        assert!(
            open(&k, b"media-2", &sealed).is_err(),
            "bound to its record id"
        );
        let mut bad = sealed.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(open(&k, b"media-1", &bad).is_err());
        assert!(open(&new_data_key(), b"media-1", &sealed).is_err());
        assert!(
            !sealed.windows(11).any(|w| w == b"face pixels"),
            "plaintext not in the ciphertext"
        );
    }

    #[test]
    fn master_key_wraps_data_keys_and_parses_hex() {
        let m = MasterKey::generate();
        let dk = new_data_key();
        let w = m.wrap("deployment/d1/alerts", &dk).unwrap();
        assert_eq!(m.unwrap("deployment/d1/alerts", &w).unwrap(), dk);
        assert!(m.unwrap("deployment/d2/alerts", &w).is_err());
        assert_eq!(MasterKey::from_hex(&m.to_hex()).unwrap().0, m.0);
        assert!(MasterKey::from_hex("abcd").is_err());
        assert!(!format!("{m:?}").contains(&m.to_hex()));
    }
}
