//! A token ledger in the ICRC-1 standard: balances of accounts, transfers
//! with a fixed fee, a count of blocks and the recent transfers. The
//! cycles ledger and the ICP ledger are each one, with their own fee and
//! metadata; the ICP ledger keys accounts by account identifier, as its
//! legacy interface names them.
//!
//! On a development subnet (one that lets principals mint cycles), the
//! default account of each principal allowed to mint starts with the
//! token's [`TokenKind::faucet`] amount, credited the first time it is
//! used: a local network's developer has cycles and ICP to spend, as on
//! PocketIC.

use std::collections::{BTreeMap, BTreeSet};

use candid::{CandidType, Nat, Principal as CandidPrincipal};
use ic_ledger_types::{AccountIdentifier, Subaccount};
use serde::{Deserialize, Serialize};

/// An ICRC-1 account: an owner and an optional 32-byte subaccount.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, CandidType, Serialize, Deserialize)]
pub struct Account {
    /// The owner.
    pub owner: CandidPrincipal,
    /// The subaccount (none: all zeros).
    pub subaccount: Option<serde_bytes::ByteBuf>,
}

/// The cycles ledger's key of an account: owner bytes and the subaccount,
/// with "none" and 32 zero bytes the same account.
pub type OwnerKey = (Vec<u8>, [u8; 32]);

/// How a ledger keys its balances.
pub trait AccountKey: Clone + Ord {
    /// The key of `account`.
    fn of(account: &Account) -> Result<Self, BadSubaccount>;
}

impl AccountKey for OwnerKey {
    fn of(account: &Account) -> Result<OwnerKey, BadSubaccount> {
        Ok((account.owner.as_slice().to_vec(), account.subaccount()?))
    }
}

/// The ICP ledger's key: the account identifier (a checksummed hash of
/// owner and subaccount), the only name its legacy `transfer` knows.
impl AccountKey for AccountIdentifier {
    fn of(account: &Account) -> Result<AccountIdentifier, BadSubaccount> {
        let subaccount = Subaccount(account.subaccount()?);
        Ok(AccountIdentifier::new(&account.owner, &subaccount))
    }
}

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

    /// Its subaccount's 32 bytes (none: zeros).
    fn subaccount(&self) -> Result<[u8; 32], BadSubaccount> {
        match &self.subaccount {
            None => Ok([0; 32]),
            Some(bytes) => <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| BadSubaccount),
        }
    }

    /// Whether it is its owner's default account.
    fn is_default(&self) -> bool {
        self.subaccount() == Ok([0; 32])
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

/// Transfers a ledger keeps to be looked up by block (the cycles minting
/// canister's notifications name the ICP transfer paying for them); older
/// ones are forgotten.
pub const RECENT_TRANSFERS: usize = 10_000;

/// One transfer, as kept among the recent ones.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer<K> {
    /// The account debited.
    pub from: K,
    /// The account credited.
    pub to: K,
    /// Tokens moved (the fee aside).
    pub amount: u128,
    /// The memo (a legacy transfer's number, or an ICRC-1 memo of 8 bytes
    /// read little-endian; otherwise 0).
    pub memo: u64,
}

/// One token's ledger, its accounts keyed by `K`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token<K: Ord = OwnerKey> {
    balances: BTreeMap<K, u128>,
    /// Owners whose faucet credit was made.
    funded: BTreeSet<Vec<u8>>,
    total_supply: u128,
    /// Blocks so far (each mint, burn or transfer is one).
    blocks: u64,
    /// The last [`RECENT_TRANSFERS`] transfers, by block.
    #[serde(default = "BTreeMap::new")]
    recent: BTreeMap<u64, Transfer<K>>,
}

impl<K: Ord> Default for Token<K> {
    fn default() -> Self {
        Token {
            balances: BTreeMap::new(),
            funded: BTreeSet::new(),
            total_supply: 0,
            blocks: 0,
            recent: BTreeMap::new(),
        }
    }
}

/// What distinguishes one token's ledger from another.
pub struct TokenKind {
    /// The transfer fee.
    pub fee: u128,
    /// What a minting principal's default account starts with.
    pub faucet: u128,
}

impl<K: AccountKey> Token<K> {
    /// The balance of `account`, counting a faucet credit not yet made to
    /// an owner for whom `may_mint` holds.
    pub fn balance(&self, account: &Account, kind: &TokenKind, may_mint: MayMint) -> u128 {
        let Ok(key) = K::of(account) else {
            return 0;
        };
        self.balance_of(&key) + self.unfunded_credit(account, kind, may_mint)
    }

    /// The balance stored under `key` (a faucet credit not yet made is
    /// not counted: the owner is not known from a key).
    pub fn balance_of(&self, key: &K) -> u128 {
        self.balances.get(key).copied().unwrap_or(0)
    }

    fn unfunded_credit(&self, account: &Account, kind: &TokenKind, may_mint: MayMint) -> u128 {
        let owner = account.owner.as_slice();
        if account.is_default() && !self.funded.contains(owner) && may_mint(owner) {
            kind.faucet
        } else {
            0
        }
    }

    /// Makes the faucet credit of `account`'s owner if it is due.
    fn fund(&mut self, account: &Account, kind: &TokenKind, may_mint: MayMint) {
        let credit = self.unfunded_credit(account, kind, may_mint);
        if credit > 0 {
            self.funded.insert(account.owner.as_slice().to_vec());
            if let Ok(key) = K::of(account) {
                self.credit_key(key, credit);
            }
        }
    }

    /// Adds `amount` to `key` as a new block (a mint); returns its index.
    pub fn credit_key(&mut self, key: K, amount: u128) -> u64 {
        let balance = self.balances.entry(key).or_default();
        *balance = balance.saturating_add(amount);
        self.total_supply = self.total_supply.saturating_add(amount);
        self.blocks += 1;
        self.blocks - 1
    }

    /// Mints `amount` into `account`; returns the block index.
    pub fn mint(&mut self, account: &Account, amount: u128) -> Result<u64, TransferError> {
        let key = K::of(account).map_err(bad_subaccount)?;
        Ok(self.credit_key(key, amount))
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
        let key = K::of(account).map_err(bad_subaccount)?;
        self.fund(account, kind, may_mint);
        self.burn_key(&key, amount.saturating_add(kind.fee))
    }

    /// Takes `amount` from `key`, burning it; returns the block index.
    pub fn burn_key(&mut self, key: &K, amount: u128) -> Result<u64, TransferError> {
        let balance = self.balance_of(key);
        if balance < amount {
            return Err(TransferError::InsufficientFunds {
                balance: Nat::from(balance),
            });
        }
        self.balances.insert(key.clone(), balance - amount);
        self.total_supply -= amount;
        self.blocks += 1;
        Ok(self.blocks - 1)
    }

    /// Moves `amount` from `from` to `to` with `memo`, burning the fee;
    /// returns the block index.
    pub fn transfer(
        &mut self,
        from: &Account,
        to: &Account,
        amount: u128,
        memo: u64,
        kind: &TokenKind,
        may_mint: MayMint,
    ) -> Result<u64, TransferError> {
        let to = K::of(to).map_err(bad_subaccount)?;
        self.transfer_to(from, to, amount, memo, kind, may_mint)
    }

    /// Moves `amount` from `from` to the account keyed `to` with `memo`,
    /// burning the fee; returns the block index, under which the transfer
    /// is kept among the recent ones.
    pub fn transfer_to(
        &mut self,
        from: &Account,
        to: K,
        amount: u128,
        memo: u64,
        kind: &TokenKind,
        may_mint: MayMint,
    ) -> Result<u64, TransferError> {
        let from_key = K::of(from).map_err(bad_subaccount)?;
        self.burn(from, amount, kind, may_mint)?;
        self.total_supply = self.total_supply.saturating_add(amount);
        let balance = self.balances.entry(to.clone()).or_default();
        *balance = balance.saturating_add(amount);
        let block = self.blocks - 1;
        let transfer = Transfer {
            from: from_key,
            to,
            amount,
            memo,
        };
        self.recent.insert(block, transfer);
        while self.recent.len() > RECENT_TRANSFERS {
            self.recent.pop_first();
        }
        Ok(block)
    }

    /// The transfer made in block `block`, if it is a recent transfer.
    pub fn recent_transfer(&self, block: u64) -> Option<&Transfer<K>> {
        self.recent.get(&block)
    }

    /// The oldest block whose transfer is still kept (none: no transfer yet).
    pub fn oldest_recent(&self) -> Option<u64> {
        self.recent.keys().next().copied()
    }

    /// Tokens in existence (faucet credits not yet made aside).
    pub fn total_supply(&self) -> u128 {
        self.total_supply
    }

    /// The same ledger with its accounts keyed by `rekey` of their keys.
    pub fn rekeyed<J: AccountKey>(self, rekey: impl Fn(K) -> J) -> Token<J> {
        let recent = self.recent.into_iter().map(|(block, transfer)| {
            let transfer = Transfer {
                from: rekey(transfer.from),
                to: rekey(transfer.to),
                amount: transfer.amount,
                memo: transfer.memo,
            };
            (block, transfer)
        });
        Token {
            balances: self
                .balances
                .into_iter()
                .map(|(key, balance)| (rekey(key), balance))
                .collect(),
            funded: self.funded,
            total_supply: self.total_supply,
            blocks: self.blocks,
            recent: recent.collect(),
        }
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
        let mut token: Token = Token::default();
        let (alice, bob) = (Account::of(b"alice"), Account::of(b"bob"));
        token.mint(&alice, 100).unwrap();
        token.transfer(&alice, &bob, 50, 0, &KIND, &minter).unwrap();
        assert_eq!(token.balance(&alice, &KIND, &minter), 40);
        assert_eq!(token.balance(&bob, &KIND, &minter), 50);
        assert_eq!(token.total_supply(), 90);
        assert_eq!(
            token.transfer(&alice, &bob, 31, 0, &KIND, &minter),
            Err(TransferError::InsufficientFunds {
                balance: Nat::from(40u8)
            })
        );
    }

    #[test]
    fn a_minting_principal_has_its_faucet_credit_once() {
        let mut token: Token = Token::default();
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
        let mut token: Token = Token::default();
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
