//! Beaker's encrypted cookies (`encrypt_key`, formats.md §2.6): the body is
//! `nonce ++ b64(cipher_output)`, the AES-256 key is
//! PBKDF2-HMAC-SHA1(encrypt_key, validate_key ++ nonce text, 1 iteration).

use aes_gcm::aead::rand_core::RngCore as _;
use aes_gcm::aead::{AeadInPlace as _, KeyInit as _, OsRng};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use ctr::cipher::{KeyIvInit as _, StreamCipher as _};
use sha1::Sha1;
use zeroize::Zeroizing;

use super::signed;
use crate::codec::{CryptoType, Encryption};
use crate::error::{Error, Result};

type Aes256Ctr = ctr::Ctr128BE<aes::Aes256>;

const GCM_IV_LEN: usize = 12;
const GCM_TAG_LEN: usize = 16;

/// Length in characters of the nonce text, Beaker's `get_nonce_size`:
/// `((4 * (bits / 8) // 3) + 3) & ~3`, i.e. the padded base64 length of the nonce.
pub(crate) fn nonce_text_len(nonce_bits: u32) -> usize {
    let bytes = u64::from(nonce_bits / 8);
    let len = (bytes.saturating_mul(4) / 3).saturating_add(3) & !3;
    usize::try_from(len).unwrap_or(usize::MAX)
}

/// Beaker passes both keys through `str.encode("ascii")` (`bytes_`); non-ASCII
/// keys make every encrypted read and write fail there.
fn ascii_key<'a>(key: &'a [u8], option: &str) -> Result<&'a [u8]> {
    if key.is_ascii() {
        Ok(key)
    } else {
        Err(Error::InvalidOption {
            option: option.into(),
            reason: "must be ASCII when encrypt_key is used".into(),
        })
    }
}

/// `generateCryptoKeys(encrypt_key, validate_key + nonce, 1, 32)`.
fn derive_key(enc: &Encryption, validate_key: &[u8], nonce: &str) -> Result<Zeroizing<[u8; 32]>> {
    let password = ascii_key(enc.key.bytes(), "original_format_encrypt_key")?;
    let validate_key = ascii_key(validate_key, "original_format_validate_key")?;
    if !nonce.is_ascii() {
        // the reference fails with UnicodeEncodeError before decrypting anything
        return Err(Error::Decrypt);
    }
    let mut salt = Zeroizing::new(Vec::with_capacity(validate_key.len() + nonce.len()));
    salt.extend_from_slice(validate_key);
    salt.extend_from_slice(nonce.as_bytes());
    let mut key = Zeroizing::new([0u8; 32]);
    pbkdf2::pbkdf2_hmac::<Sha1>(password, &salt, 1, key.as_mut_slice());
    Ok(key)
}

/// Reads an encrypted body (the signed part of the cookie): returns the
/// serializer's bytes.
///
/// # Errors
/// [`Error::OriginalBase64`] for bad base64, [`Error::Decrypt`] for a GCM body that
/// does not authenticate (wrong key, tampering, too short). CTR has no
/// authentication: a wrong key gives garbage that the serializer then rejects.
pub(crate) fn open(body: &str, validate_key: &[u8], enc: &Encryption) -> Result<Vec<u8>> {
    let split = body
        .char_indices()
        .nth(nonce_text_len(enc.nonce_bits))
        .map_or(body.len(), |(i, _)| i);
    let (nonce, rest) = body.split_at(split);
    let key = derive_key(enc, validate_key, nonce)?;
    let data = signed::b64decode(rest)?;
    decrypt(enc.crypto, &key, data)
}

fn decrypt(crypto: CryptoType, key: &[u8; 32], mut data: Vec<u8>) -> Result<Vec<u8>> {
    match crypto {
        CryptoType::AesGcm => {
            // iv(12) | tag(16) | ciphertext; shorter input is an error in `cryptography` too
            if data.len() < GCM_IV_LEN + GCM_TAG_LEN {
                return Err(Error::Decrypt);
            }
            let mut ciphertext = data.split_off(GCM_IV_LEN + GCM_TAG_LEN);
            let (iv, tag) = data.split_at(GCM_IV_LEN);
            let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| Error::Decrypt)?;
            cipher
                .decrypt_in_place_detached(
                    Nonce::from_slice(iv),
                    b"",
                    &mut ciphertext,
                    Tag::from_slice(tag),
                )
                .map_err(|_| Error::Decrypt)?;
            Ok(ciphertext)
        }
        CryptoType::AesCtr => {
            apply_ctr(key, &mut data).map_err(|_| Error::Decrypt)?;
            Ok(data)
        }
    }
}

/// AES-256-CTR with a 128-bit big-endian counter from 0 (pycryptodome's
/// `Counter.new(128, initial_value=0)`); encryption and decryption are the same.
fn apply_ctr(key: &[u8; 32], data: &mut [u8]) -> std::result::Result<(), ()> {
    let mut cipher = Aes256Ctr::new_from_slices(key, &[0u8; 16]).map_err(|_| ())?;
    cipher.try_apply_keystream(data).map_err(|_| ())
}

/// Writes an encrypted body like Beaker's `CookieSession._encrypt_data`: a fresh
/// random nonce, then `b64(cipher_output)`.
///
/// # Errors
/// [`Error::InvalidOption`] for non-ASCII keys, [`Error::Encrypt`] if the OS
/// random generator fails.
pub(crate) fn seal(plaintext: &[u8], validate_key: &[u8], enc: &Encryption) -> Result<String> {
    let nonce_len = usize::try_from(enc.nonce_bits / 8).map_err(|_| Error::Encrypt)?;
    let mut nonce_bytes = Zeroizing::new(vec![0u8; nonce_len]);
    OsRng
        .try_fill_bytes(&mut nonce_bytes)
        .map_err(|_| Error::Encrypt)?;
    // b64encode(os.urandom(n))[:L]: L is the full padded length, so nothing is cut
    let nonce_full = signed::b64encode(&nonce_bytes);
    let nonce: String = nonce_full
        .chars()
        .take(nonce_text_len(enc.nonce_bits))
        .collect();
    let key = derive_key(enc, validate_key, &nonce)?;
    let output = encrypt(enc.crypto, &key, plaintext)?;
    Ok(nonce + &signed::b64encode(&output))
}

fn encrypt(crypto: CryptoType, key: &[u8; 32], plaintext: &[u8]) -> Result<Vec<u8>> {
    match crypto {
        CryptoType::AesGcm => {
            let mut iv = [0u8; GCM_IV_LEN];
            OsRng.try_fill_bytes(&mut iv).map_err(|_| Error::Encrypt)?;
            let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| Error::Encrypt)?;
            let mut buffer = plaintext.to_vec();
            let tag = cipher
                .encrypt_in_place_detached(Nonce::from_slice(&iv), b"", &mut buffer)
                .map_err(|_| Error::Encrypt)?;
            let mut out = Vec::with_capacity(GCM_IV_LEN + GCM_TAG_LEN + buffer.len());
            out.extend_from_slice(&iv);
            out.extend_from_slice(&tag);
            out.extend_from_slice(&buffer);
            Ok(out)
        }
        CryptoType::AesCtr => {
            let mut buffer = plaintext.to_vec();
            apply_ctr(key, &mut buffer).map_err(|_| Error::Encrypt)?;
            Ok(buffer)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SecretKey;

    fn enc(key: &str, crypto: CryptoType, nonce_bits: u32) -> Encryption {
        Encryption {
            key: SecretKey::new(key),
            crypto,
            nonce_bits,
        }
    }

    fn from_hex(hex: &str) -> Vec<u8> {
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn nonce_lengths_match_beaker() {
        // get_nonce_size(bits)[1] from beaker.crypto
        assert_eq!(nonce_text_len(128), 24);
        assert_eq!(nonce_text_len(48), 8);
        assert_eq!(nonce_text_len(8), 4);
        assert_eq!(nonce_text_len(16), 4);
        assert_eq!(nonce_text_len(24), 4);
        assert_eq!(nonce_text_len(32), 8);
        assert_eq!(nonce_text_len(u32::MAX - 7), 715_827_884);
    }

    /// Bodies written by Beaker's CookieSession._encrypt_data (fixture from the venv,
    /// scripts/gen_original_fixtures.py) decrypt to the serializer's bytes.
    #[test]
    fn opens_bodies_written_by_beaker() {
        let text = include_str!("../../testdata/original/encrypted.json");
        let cases: Vec<serde_json::Value> = serde_json::from_str(text).unwrap();
        assert_eq!(cases.len(), 12);
        for case in &cases {
            let o = &case["options"];
            let crypto = match o["crypto_type"].as_str().unwrap() {
                "cryptography" => CryptoType::AesGcm,
                _ => CryptoType::AesCtr,
            };
            let bits: u32 = o["encrypt_nonce_bits"].as_str().unwrap().parse().unwrap();
            let e = enc(o["encrypt_key"].as_str().unwrap(), crypto, bits);
            let vk = o["validate_key"].as_str().unwrap().as_bytes();
            let body = case["body"].as_str().unwrap();
            let plain = open(body, vk, &e).unwrap();
            assert_eq!(plain, from_hex(case["plaintext_hex"].as_str().unwrap()));
        }
    }

    #[test]
    fn round_trips_both_ciphers_and_nonce_sizes() {
        let vk = b"legacy-validate";
        for crypto in [CryptoType::AesGcm, CryptoType::AesCtr] {
            for bits in [8, 48, 128, 256] {
                let e = enc("encrypt-key", crypto, bits);
                for plain in [&b""[..], b"x", b"\x80\x02}q\x00.", &[7u8; 1000]] {
                    let body = seal(plain, vk, &e).unwrap();
                    assert_eq!(
                        body.len() - nonce_text_len(bits),
                        body[nonce_text_len(bits)..].len()
                    );
                    assert_eq!(open(&body, vk, &e).unwrap(), plain);
                }
            }
        }
    }

    #[test]
    fn fresh_nonce_and_iv_every_time() {
        let e = enc("encrypt-key", CryptoType::AesGcm, 128);
        let a = seal(b"same", b"vk", &e).unwrap();
        let b = seal(b"same", b"vk", &e).unwrap();
        assert_ne!(a, b);
        assert_ne!(a[..24], b[..24]);
    }

    #[test]
    fn gcm_wrong_key_or_tamper_is_decrypt_error() {
        let vk = b"legacy-validate";
        let e = enc("encrypt-key", CryptoType::AesGcm, 128);
        let body = seal(b"\x80\x02}q\x00.", vk, &e).unwrap();
        let wrong = enc("encrypt-key2", CryptoType::AesGcm, 128);
        assert!(matches!(open(&body, vk, &wrong), Err(Error::Decrypt)));
        // the validate key is part of the salt
        assert!(matches!(open(&body, b"other", &e), Err(Error::Decrypt)));
        // flip one ciphertext bit (last data byte of the base64)
        let mut data = signed::b64decode(&body[24..]).unwrap();
        let last = data.len() - 1;
        data[last] ^= 1;
        let tampered = format!("{}{}", &body[..24], signed::b64encode(&data));
        assert!(matches!(open(&tampered, vk, &e), Err(Error::Decrypt)));
        // a different nonce text derives a different key (a first character the
        // random nonce does not already have: 'A' alone failed 1 run in 64)
        let other = if body.starts_with('A') { 'B' } else { 'A' };
        let renonced = format!("{other}{}", &body[1..]);
        assert!(matches!(open(&renonced, vk, &e), Err(Error::Decrypt)));
        // too short for iv + tag
        for n in [0, 1, 11, 12, 27] {
            let short = format!("{}{}", &body[..24], signed::b64encode(&vec![0u8; n]));
            assert!(matches!(open(&short, vk, &e), Err(Error::Decrypt)));
        }
        assert!(matches!(open("", vk, &e), Err(Error::Decrypt)));
    }

    #[test]
    fn ctr_wrong_key_gives_garbage_not_error() {
        let vk = b"legacy-validate";
        let e = enc("encrypt-key", CryptoType::AesCtr, 128);
        let body = seal(b"\x80\x02}q\x00.", vk, &e).unwrap();
        let wrong = enc("encrypt-key2", CryptoType::AesCtr, 128);
        let garbage = open(&body, vk, &wrong).unwrap();
        assert_eq!(garbage.len(), 6);
        assert_ne!(garbage, b"\x80\x02}q\x00.");
    }

    #[test]
    fn non_ascii_keys_and_nonces_are_rejected() {
        let e = enc("clé", CryptoType::AesGcm, 128);
        assert!(matches!(
            seal(b"x", b"vk", &e),
            Err(Error::InvalidOption { .. })
        ));
        let e = enc("key", CryptoType::AesGcm, 128);
        assert!(matches!(
            seal(b"x", "clé".as_bytes(), &e),
            Err(Error::InvalidOption { .. })
        ));
        let body = format!("é{}", "A".repeat(60));
        assert!(matches!(open(&body, b"vk", &e), Err(Error::Decrypt)));
        let body = format!("{}é", "A".repeat(60));
        assert!(matches!(
            open(&body, b"vk", &e),
            Err(Error::OriginalBase64(_))
        ));
    }
}
