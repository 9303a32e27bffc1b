//! Principals: the IC's identifiers of users and canisters, with their
//! textual form (CRC-32 then the bytes, base32, in groups of five).

use data_encoding::BASE32_NOPAD;
use sha2::{Digest, Sha224};

/// An identity or canister id (at most 29 bytes).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Principal(Vec<u8>);

/// Why text is not a principal.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a principal: {0}")]
pub struct InvalidPrincipal(&'static str);

impl Principal {
    /// The principal of these bytes.
    ///
    /// # Errors
    /// [`InvalidPrincipal`] above 29 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Principal, InvalidPrincipal> {
        if bytes.len() > 29 {
            return Err(InvalidPrincipal("longer than 29 bytes"));
        }
        Ok(Principal(bytes.to_vec()))
    }

    /// The anonymous user (`2vxsx-fae`).
    pub fn anonymous() -> Principal {
        Principal(vec![4])
    }

    /// The management canister (`aaaaa-aa`).
    pub fn management_canister() -> Principal {
        Principal(Vec::new())
    }

    /// The user holding the key with this DER encoding: SHA-224 of it, then 0x02.
    pub fn self_authenticating(der_public_key: &[u8]) -> Principal {
        let mut bytes = Sha224::digest(der_public_key).to_vec();
        bytes.push(2);
        Principal(bytes)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Reads the textual form.
    ///
    /// # Errors
    /// [`InvalidPrincipal`] for bad characters, grouping or checksum.
    pub fn from_text(text: &str) -> Result<Principal, InvalidPrincipal> {
        let compact: String = text.chars().filter(|c| *c != '-').collect();
        let decoded = BASE32_NOPAD
            .decode(compact.to_ascii_uppercase().as_bytes())
            .map_err(|_| InvalidPrincipal("not base32"))?;
        if decoded.len() < 4 {
            return Err(InvalidPrincipal("too short"));
        }
        let principal = Principal::from_bytes(&decoded[4..])?;
        if principal.to_text() != text {
            return Err(InvalidPrincipal("checksum or grouping does not match"));
        }
        Ok(principal)
    }

    /// The textual form.
    pub fn to_text(&self) -> String {
        let mut bytes = crc32fast::hash(&self.0).to_be_bytes().to_vec();
        bytes.extend_from_slice(&self.0);
        let encoded = BASE32_NOPAD.encode(&bytes).to_ascii_lowercase();
        encoded
            .as_bytes()
            .chunks(5)
            .map(|chunk| std::str::from_utf8(chunk).expect("base32 is ASCII"))
            .collect::<Vec<_>>()
            .join("-")
    }
}

impl std::fmt::Display for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl std::fmt::Debug for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Principal({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_principals_have_their_well_known_names() {
        assert_eq!(Principal::anonymous().to_text(), "2vxsx-fae");
        assert_eq!(Principal::management_canister().to_text(), "aaaaa-aa");
        // The NNS ledger canister.
        let ledger = Principal::from_bytes(&[0, 0, 0, 0, 0, 0, 0, 2, 1, 1]).unwrap();
        assert_eq!(ledger.to_text(), "ryjl3-tyaaa-aaaaa-aaaba-cai");
        assert_eq!(
            Principal::from_text("ryjl3-tyaaa-aaaaa-aaaba-cai"),
            Ok(ledger)
        );
        assert!(Principal::from_text("ryjl3-tyaaa-aaaaa-aaaba-caj").is_err());
        assert!(Principal::from_text("ryjl3tyaaa-aaaaa-aaaba-cai").is_err());
        assert!(Principal::from_bytes(&[0; 30]).is_err());
        let user = Principal::self_authenticating(b"some DER key");
        assert_eq!(user.as_bytes().len(), 29);
        assert_eq!(user.as_bytes()[28], 2);
        assert_eq!(Principal::from_text(&user.to_text()), Ok(user));
    }
}
