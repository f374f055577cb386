//! Basic authentication against bcrypt hashes (`basic_auth_users`).
//!
//! bcrypt is slow on purpose (cost 10 is tens of milliseconds), so a verified user, password
//! and hash is remembered by its SHA-256 and a scrape every 15 s pays it once. A request for an
//! unknown user still pays one bcrypt (against a configured user's hash) and gets the same 401
//! as a wrong password: the answer and its timing do not tell which users exist. At most as
//! many bcrypt checks as cores run at once, on blocking threads, so wrong passwords cannot
//! stall the server's own threads.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;
use std::sync::Mutex;

use base64::Engine as _;
use hyper::header::HeaderValue;
use sha2::{Digest, Sha256};

/// Successful verifications remembered at most; the set is emptied when it is full.
const CACHE_LIMIT: usize = 1024;

/// How to make a hash, for messages.
pub const HASH_HINT: &str = "make one with: htpasswd -nBC 10 \"\" | tr -d ':\\n'";

pub struct BasicAuth {
    users: HashMap<String, String>,
    /// A configured user's hash, checked for unknown users so they cost the same.
    decoy: String,
    verified: Mutex<HashSet<[u8; 32]>>,
}

impl BasicAuth {
    /// Checks each entry is a bcrypt hash and each user name can be sent in basic auth.
    pub fn new(users: BTreeMap<String, String>) -> Result<BasicAuth, String> {
        for (user, hash) in &users {
            let key = format!("basic_auth_users.{user}");
            if user.is_empty() || user.contains(':') {
                return Err(format!(
                    "key `{key}`: a user name must be non-empty and have no ':'"
                ));
            }
            // The hash is not echoed: it is as good as a password against offline guessing.
            bcrypt::HashParts::from_str(hash)
                .map_err(|_| format!("key `{key}`: not a bcrypt hash ({HASH_HINT})"))?;
        }
        let decoy = users.values().next().cloned().unwrap_or_default();
        Ok(BasicAuth {
            users: users.into_iter().collect(),
            decoy,
            verified: Mutex::new(HashSet::new()),
        })
    }

    /// How many users are configured.
    pub fn users(&self) -> usize {
        self.users.len()
    }

    /// Whether an `Authorization` header carries a configured user's right password.
    pub async fn check(&self, authorization: Option<&HeaderValue>) -> bool {
        let Some((user, password)) = authorization.and_then(parse_basic) else {
            return false;
        };
        let (hash, known) = match self.users.get(&user) {
            Some(h) => (h.clone(), true),
            None => (self.decoy.clone(), false),
        };
        let key = cache_key(&user, &password, &hash);
        if known && self.verified.lock().unwrap().contains(&key) {
            return true;
        }
        let ok = bcrypt_limited(password, hash).await && known;
        if ok {
            self.remember(key);
        }
        ok
    }

    /// [`BasicAuth::check`] for a user and password, on this thread.
    pub fn check_blocking(&self, user: &str, password: &str) -> bool {
        let (hash, known) = match self.users.get(user) {
            Some(h) => (h.as_str(), true),
            None => (self.decoy.as_str(), false),
        };
        let key = cache_key(user, password, hash);
        if known && self.verified.lock().unwrap().contains(&key) {
            return true;
        }
        let ok = bcrypt::verify(password, hash).unwrap_or(false) && known;
        if ok {
            self.remember(key);
        }
        ok
    }

    /// How many verifications are remembered (tests).
    pub fn cached(&self) -> usize {
        self.verified.lock().unwrap().len()
    }

    fn remember(&self, key: [u8; 32]) {
        let mut verified = self.verified.lock().unwrap();
        if verified.len() >= CACHE_LIMIT {
            verified.clear();
        }
        verified.insert(key);
    }
}

fn cache_key(user: &str, password: &str, hash: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    for part in [user, password, hash] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().into()
}

/// One bcrypt verification on a blocking thread, at most as many at once as there are cores.
async fn bcrypt_limited(password: String, hash: String) -> bool {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    let slots = SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        tokio::sync::Semaphore::new(cores)
    });
    let Ok(_slot) = slots.acquire().await else {
        return false;
    };
    tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
        .await
        .unwrap_or(false)
}

/// `Basic base64(user:password)` → (user, password).
pub fn parse_basic(value: &HeaderValue) -> Option<(String, String)> {
    let value = value.to_str().ok()?.trim();
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}
