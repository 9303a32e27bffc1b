//! Prepares a canister module for execution: unzips it, checks it, and
//! exports what the host must reach but the module may keep private — its
//! memory, its mutable globals (saved and restored with the heap between messages) and
//! its function table (callbacks of inter-canister calls run through it).

use std::io::Read;

use wasm_encoder::reencode::{Reencode, RoundtripReencoder};
use wasm_encoder::{ExportKind, ExportSection, SectionId};
use wasmparser::{Parser, Payload};

/// Export name of the module's `i`-th mutable global.
pub fn global_export(index: u32) -> String {
    format!("__chainkey_global_{index}")
}

/// Export name of the module's memory.
pub const MEMORY_EXPORT: &str = "__chainkey_memory";

/// Export name of the module's table 0.
pub const TABLE_EXPORT: &str = "__chainkey_table";

/// Largest module accepted, unzipped (the IC's limit for code is similar).
pub const MAX_MODULE_BYTES: usize = 100 << 20;

/// Why a module cannot be installed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModuleError {
    /// The module is gzip-compressed but does not unzip.
    #[error("the gzip-compressed module does not decompress: {0}")]
    Gzip(String),
    /// The module is larger than [`MAX_MODULE_BYTES`].
    #[error("the module is larger than {MAX_MODULE_BYTES} bytes")]
    TooLarge,
    /// The module does not parse or validate.
    #[error("invalid WebAssembly module: {0}")]
    Invalid(String),
    /// The module imports something the System API does not offer.
    #[error("the module imports {module}.{name}, which this subnet does not provide")]
    UnknownImport {
        /// Module of the import.
        module: String,
        /// Name of the import.
        name: String,
    },
    /// The module has no memory, or more than one.
    #[error("a canister module needs exactly one memory, this one has {0}")]
    Memories(usize),
}

/// A module ready for wasmtime, with what the instrumentation added.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The rewritten module.
    pub wasm: Vec<u8>,
    /// Indices of the mutable globals, in order (exported as [`global_export`]).
    pub mutable_globals: Vec<u32>,
    /// Whether the module has a table (exported as [`TABLE_EXPORT`]).
    pub has_table: bool,
}

/// Unzips a gzip-compressed module (magic `1f 8b 08`), else returns it as is.
pub fn decompress(module: &[u8]) -> Result<Vec<u8>, ModuleError> {
    if !module.starts_with(&[0x1f, 0x8b, 0x08]) {
        return Ok(module.to_vec());
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(module)
        .take(MAX_MODULE_BYTES as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|error| ModuleError::Gzip(error.to_string()))?;
    if out.len() > MAX_MODULE_BYTES {
        return Err(ModuleError::TooLarge);
    }
    Ok(out)
}

/// Checks `wasm` (unzipped) and adds the host's exports. `provided` says
/// which `ic0` functions exist, so a missing one is named at install time.
pub fn prepare(wasm: &[u8], provided: impl Fn(&str) -> bool) -> Result<Prepared, ModuleError> {
    let invalid = |error: wasmparser::BinaryReaderError| ModuleError::Invalid(error.to_string());
    let mut features = wasmparser::WasmFeatures::default();
    features.set(wasmparser::WasmFeatures::MEMORY64, true);
    features.set(wasmparser::WasmFeatures::THREADS, false);
    wasmparser::Validator::new_with_features(features)
        .validate_all(wasm)
        .map_err(invalid)?;
    let mut mutable_globals = Vec::new();
    let mut globals = 0;
    let mut memories = 0;
    let mut tables = 0;
    let mut has_exports = false;
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(invalid)? {
            Payload::ImportSection(section) => {
                for import in section.into_imports() {
                    let import = import.map_err(invalid)?;
                    let known = match import.ty {
                        wasmparser::TypeRef::Func(_) => {
                            import.module == "ic0" && provided(import.name)
                        }
                        _ => false,
                    };
                    if !known {
                        return Err(ModuleError::UnknownImport {
                            module: import.module.to_string(),
                            name: import.name.to_string(),
                        });
                    }
                }
            }
            Payload::GlobalSection(section) => {
                for global in section {
                    if global.map_err(invalid)?.ty.mutable {
                        mutable_globals.push(globals);
                    }
                    globals += 1;
                }
            }
            Payload::MemorySection(section) => memories += section.count(),
            Payload::TableSection(section) => tables += section.count(),
            Payload::ExportSection(_) => has_exports = true,
            _ => {}
        }
    }
    if memories != 1 {
        return Err(ModuleError::Memories(memories as usize));
    }
    let mut extra: Vec<(String, ExportKind, u32)> = vec![(MEMORY_EXPORT.into(), ExportKind::Memory, 0)];
    extra.extend(
        mutable_globals
            .iter()
            .map(|&index| (global_export(index), ExportKind::Global, index)),
    );
    if tables > 0 {
        extra.push((TABLE_EXPORT.to_string(), ExportKind::Table, 0));
    }
    let mut exporter = Exporter {
        extra,
        pending: true,
        has_exports,
    };
    let mut module = wasm_encoder::Module::new();
    exporter
        .parse_core_module(&mut module, Parser::new(0), wasm)
        .map_err(|error| ModuleError::Invalid(format!("{error:?}")))?;
    Ok(Prepared {
        wasm: module.finish(),
        mutable_globals,
        has_table: tables > 0,
    })
}

/// Copies a module, adding `extra` to its exports (in a new export
/// section if it has none).
struct Exporter {
    extra: Vec<(String, ExportKind, u32)>,
    pending: bool,
    has_exports: bool,
}

impl Exporter {
    fn add_to(&mut self, exports: &mut ExportSection) {
        for (name, kind, index) in self.extra.drain(..) {
            exports.export(&name, kind, index);
        }
        self.pending = false;
    }
}

impl Reencode for Exporter {
    type Error = std::convert::Infallible;

    fn parse_export_section(
        &mut self,
        exports: &mut ExportSection,
        section: wasmparser::ExportSectionReader<'_>,
    ) -> Result<(), wasm_encoder::reencode::Error<Self::Error>> {
        RoundtripReencoder.parse_export_section(exports, section)?;
        self.add_to(exports);
        Ok(())
    }

    fn intersperse_section_hook(
        &mut self,
        module: &mut wasm_encoder::Module,
        _after: Option<SectionId>,
        before: Option<SectionId>,
    ) -> Result<(), wasm_encoder::reencode::Error<Self::Error>> {
        // Sections that follow the export section in a module's order.
        let follows_exports = matches!(
            before,
            None | Some(
                SectionId::Start
                    | SectionId::Element
                    | SectionId::DataCount
                    | SectionId::Code
                    | SectionId::Data
            )
        );
        if !self.has_exports && self.pending && follows_exports {
            let mut exports = ExportSection::new();
            self.add_to(&mut exports);
            module.section(&exports);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exports(wasm: &[u8]) -> Vec<String> {
        Parser::new(0)
            .parse_all(wasm)
            .filter_map(|payload| match payload.unwrap() {
                Payload::ExportSection(section) => Some(
                    section
                        .into_iter()
                        .map(|e| e.unwrap().name.to_string())
                        .collect::<Vec<_>>(),
                ),
                _ => None,
            })
            .flatten()
            .collect()
    }

    #[test]
    fn exports_mutable_globals_and_the_table() {
        let wasm = wat::parse_str(
            r#"(module (memory 1) (table 1 funcref)
                 (global i32 (i32.const 1)) (global (mut i64) (i64.const 2))
                 (func (export "canister_init")))"#,
        )
        .unwrap();
        let prepared = prepare(&wasm, |_| true).unwrap();
        assert_eq!(prepared.mutable_globals, vec![1]);
        assert_eq!(
            exports(&prepared.wasm),
            [
                "canister_init",
                "__chainkey_memory",
                "__chainkey_global_1",
                "__chainkey_table"
            ]
        );
        // A module without exports gets an export section.
        let bare = wat::parse_str("(module (memory 1) (global (mut i32) (i32.const 0)))").unwrap();
        assert_eq!(
            exports(&prepare(&bare, |_| true).unwrap().wasm),
            ["__chainkey_memory", "__chainkey_global_0"]
        );
    }

    #[test]
    fn names_a_missing_import_and_refuses_bad_modules() {
        let wasm = wat::parse_str(
            r#"(module (import "ic0" "msg_reply" (func)) (import "ic0" "no_such" (func)) (memory 1))"#,
        )
        .unwrap();
        let error = prepare(&wasm, |name| name == "msg_reply").unwrap_err();
        assert_eq!(
            error,
            ModuleError::UnknownImport {
                module: "ic0".into(),
                name: "no_such".into()
            }
        );
        assert!(error.to_string().contains("ic0.no_such"));
        assert!(matches!(
            prepare(b"\0asm\x01\0\0\0\x99", |_| true),
            Err(ModuleError::Invalid(_))
        ));
        let no_memory = wat::parse_str("(module)").unwrap();
        assert_eq!(prepare(&no_memory, |_| true).unwrap_err(), ModuleError::Memories(0));
    }

    #[test]
    fn unzips_gzip_modules() {
        use std::io::Write;
        let wasm = wat::parse_str("(module (memory 1))").unwrap();
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(&wasm).unwrap();
        let zipped = encoder.finish().unwrap();
        assert_eq!(decompress(&zipped).unwrap(), wasm);
        assert_eq!(decompress(&wasm).unwrap(), wasm);
        assert!(matches!(
            decompress(&[0x1f, 0x8b, 0x08, 0, 1]),
            Err(ModuleError::Gzip(_))
        ));
    }
}
