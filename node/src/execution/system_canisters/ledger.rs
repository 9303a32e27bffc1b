//! A token ledger in the ICRC-1 standard: balances of accounts, transfers
//! with a fixed fee, and a count of blocks. The cycles ledger and the ICP
//! ledger are each one, with their own fee and metadata.
//!
//! On a development subnet (one that lets principals mint cycles), the
//! default account of each principal allowed to mint starts with the
//! token's [`TokenKind::faucet`] amount, credited the first time it is
//! used: a local network's developer has cycles and ICP to spend, as on
//! PocketIC.

use std::collections::{BTreeMap, BTreeSet};

use candid::{CandidType, Nat, Principal as CandidPrincipal};
use serde::{Deserialize, Serialize};

/// An ICRC-1 account: an owner and an optional 32-byte subaccount.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, CandidType, Serialize, Deserialize)]
pub struct Account {
    /// The owner.
    pub owner: CandidPrincipal,
    /// The subaccount (none: all zeros).
    pub subaccount: Option<serde_bytes::ByteBuf>,
}

/// An account's key in the ledger: owner bytes and the subaccount, with
/// "none" and 32 zero bytes the same account.
type Key = (Vec<u8>, [u8; 32]);

/// Why an account is not a valid ICRC-1 account.
#[derive(Debug, PartialEq, Eq)]
pub struct BadSubaccount;

impl Account {
    /// The default account of `owner`.
    pub fn of(owner: &[u8]) -> Account {
        Account {
            owner: CandidPrincipal::from_slice(owner),
            subaccount: None,
        }
    }

    fn key(&self) -> Result<Key, BadSubaccount> {
        let subaccount = match &self.subaccount {
            None => [0; 32],
            Some(bytes) => <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| BadSubaccount)?,
        };
        Ok((self.owner.as_slice().to_vec(), subaccount))
    }
}

/// `icrc1_transfer`'s argument.
#[derive(Clone, Debug, CandidType, Deserialize)]
pub struct TransferArgs {
    /// The sender's subaccount.
    pub from_subaccount: Option<serde_bytes::ByteBuf>,
    /// The receiver.
    pub to: Account,
    /// Tokens moved.
    pub amount: Nat,
    /// The fee the sender expects (must be the ledger's).
    pub fee: Option<Nat>,
    /// A memo.
    pub memo: Option<serde_bytes::ByteBuf>,
    /// When the sender made it.
    pub created_at_time: Option<u64>,
}

/// ICRC-1 `TransferError`.
#[derive(Clone, Debug, PartialEq, Eq, CandidType, Deserialize)]
pub enum TransferError {
    /// The fee named is not the ledger's.
    BadFee {
        /// The ledger's fee.
        expected_fee: Nat,
    },
    /// A burn below the smallest.
    BadBurn {
        /// The smallest burn.
        min_burn_amount: Nat,
    },
    /// The balance does not cover amount and fee.
    InsufficientFunds {
        /// The balance.
        balance: Nat,
    },
    /// `created_at_time` too far in the past.
    TooOld,
    /// `created_at_time` in the future.
    CreatedInFuture {
        /// The ledger's time.
        ledger_time: u64,
    },
    /// The same transfer was made before.
    Duplicate {
        /// Its block.
        duplicate_of: Nat,
    },
    /// Try again later.
    TemporarilyUnavailable,
    /// Anything else.
    GenericError {
        /// What happened.
        message: String,
        /// A number for it.
        error_code: Nat,
    },
}

/// Whether a principal may mint (has a faucet credit).
pub type MayMint<'a> = &'a dyn Fn(&[u8]) -> bool;

/// One token's ledger.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    balances: BTreeMap<Key, u128>,
    /// Owners whose faucet credit was made.
    funded: BTreeSet<Vec<u8>>,
    total_supply: u128,
    /// Blocks so far (each mint, burn or transfer is one).
    blocks: u64,
}

/// What distinguishes one token's ledger from another.
pub struct TokenKind {
    /// The transfer fee.
    pub fee: u128,
    /// What a minting principal's default account starts with.
    pub faucet: u128,
}

impl Token {
    /// The balance of `account`, counting a faucet credit not yet made to
    /// an owner for whom `may_mint` holds.
    pub fn balance(&self, account: &Account, kind: &TokenKind, may_mint: MayMint) -> u128 {
        let Ok(key) = account.key() else {
            return 0;
        };
        let stored = self.balances.get(&key).copied().unwrap_or(0);
        stored + self.unfunded_credit(&key, kind, may_mint)
    }

    fn unfunded_credit(&self, key: &Key, kind: &TokenKind, may_mint: MayMint) -> u128 {
        let default = key.1 == [0; 32];
        if default && !self.funded.contains(&key.0) && may_mint(&key.0) {
            kind.faucet
        } else {
            0
        }
    }

    /// Makes the faucet credit of `account`'s owner if it is due.
    fn fund(&mut self, key: &Key, kind: &TokenKind, may_mint: MayMint) {
        let credit = self.unfunded_credit(key, kind, may_mint);
        if credit > 0 {
            self.funded.insert(key.0.clone());
            self.credit_key(key, credit);
        }
    }

    fn credit_key(&mut self, key: &Key, amount: u128) {
        let balance = self.balances.entry(key.clone()).or_default();
        *balance = balance.saturating_add(amount);
        self.total_supply = self.total_supply.saturating_add(amount);
        self.blocks += 1;
    }

    /// Mints `amount` into `account`; returns the block index.
    pub fn mint(&mut self, account: &Account, amount: u128) -> Result<u64, TransferError> {
        let key = account.key().map_err(bad_subaccount)?;
        self.credit_key(&key, amount);
        Ok(self.blocks - 1)
    }

    /// Takes `amount` plus the fee from `account` (burning both); returns
    /// the block index.
    pub fn burn(
        &mut self,
        account: &Account,
        amount: u128,
        kind: &TokenKind,
        may_mint: MayMint,
    ) -> Result<u64, TransferError> {
        let key = account.key().map_err(bad_subaccount)?;
        self.fund(&key, kind, may_mint);
        let balance = self.balances.get(&key).copied().unwrap_or(0);
        let needed = amount.saturating_add(kind.fee);
        if balance < needed {
            return Err(TransferError::InsufficientFunds {
                balance: Nat::from(balance),
            });
        }
        self.balances.insert(key, balance - needed);
        self.total_supply -= needed;
        self.blocks += 1;
        Ok(self.blocks - 1)
    }

    /// Moves `amount` from `from` to `to`, burning the fee; returns the
    /// block index.
    pub fn transfer(
        &mut self,
        from: &Account,
        to: &Account,
        amount: u128,
        kind: &TokenKind,
        may_mint: MayMint,
    ) -> Result<u64, TransferError> {
        let to_key = to.key().map_err(bad_subaccount)?;
        self.burn(from, amount, kind, may_mint)?;
        self.total_supply = self.total_supply.saturating_add(amount);
        let balance = self.balances.entry(to_key).or_default();
        *balance = balance.saturating_add(amount);
        Ok(self.blocks - 1)
    }

    /// Tokens in existence (faucet credits not yet made aside).
    pub fn total_supply(&self) -> u128 {
        self.total_supply
    }
}

fn bad_subaccount(_: BadSubaccount) -> TransferError {
    TransferError::GenericError {
        message: "a subaccount is 32 bytes".into(),
        error_code: Nat::from(1u8),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIND: TokenKind = TokenKind {
        fee: 10,
        faucet: 1000,
    };

    fn minter(owner: &[u8]) -> bool {
        owner == b"dev"
    }

    #[test]
    fn transfers_move_the_amount_and_burn_the_fee() {
        let mut token = Token::default();
        let (alice, bob) = (Account::of(b"alice"), Account::of(b"bob"));
        token.mint(&alice, 100).unwrap();
        token.transfer(&alice, &bob, 50, &KIND, &minter).unwrap();
        assert_eq!(token.balance(&alice, &KIND, &minter), 40);
        assert_eq!(token.balance(&bob, &KIND, &minter), 50);
        assert_eq!(token.total_supply(), 90);
        assert_eq!(
            token.transfer(&alice, &bob, 31, &KIND, &minter),
            Err(TransferError::InsufficientFunds {
                balance: Nat::from(40u8)
            })
        );
    }

    #[test]
    fn a_minting_principal_has_its_faucet_credit_once() {
        let mut token = Token::default();
        let dev = Account::of(b"dev");
        assert_eq!(token.balance(&dev, &KIND, &minter), 1000);
        token.burn(&dev, 90, &KIND, &minter).unwrap();
        assert_eq!(token.balance(&dev, &KIND, &minter), 900);
        token.burn(&dev, 890, &KIND, &minter).unwrap();
        assert_eq!(token.balance(&dev, &KIND, &minter), 0);
        let other = Account::of(b"other");
        assert_eq!(token.balance(&other, &KIND, &minter), 0);
    }

    #[test]
    fn a_subaccount_of_zeros_is_the_default_account() {
        let mut token = Token::default();
        token.mint(&Account::of(b"alice"), 7).unwrap();
        let zeros = Account {
            owner: CandidPrincipal::from_slice(b"alice"),
            subaccount: Some(serde_bytes::ByteBuf::from(vec![0; 32])),
        };
        assert_eq!(token.balance(&zeros, &KIND, &minter), 7);
        let short = Account {
            subaccount: Some(serde_bytes::ByteBuf::from(vec![0; 3])),
            ..zeros
        };
        assert!(token.mint(&short, 1).is_err());
    }
}
