//! Prepares a canister module for execution: unzips it, checks it, and
//! exports what the host must reach but the module may keep private — its
//! memory, its mutable globals (saved and restored with the heap between
//! messages) and its function table (callbacks of inter-canister calls
//! run through it). Its start function becomes an export too, run by the
//! host: on an upgrade that keeps the heap it must run on the kept heap,
//! as on the IC, not before it is restored.

use std::io::Read;

use wasm_encoder::{ExportKind, ExportSection, RawSection};
use wasmparser::{Parser, Payload};

/// Export name of the module's `i`-th mutable global.
pub fn global_export(index: u32) -> String {
    format!("__chainkey_global_{index}")
}

/// Export name of the module's memory.
pub const MEMORY_EXPORT: &str = "__chainkey_memory";

/// Export name of the module's start function.
pub const START_EXPORT: &str = "__chainkey_start";

/// Export name of the module's table 0.
pub const TABLE_EXPORT: &str = "__chainkey_table";

/// Largest module accepted, unzipped (the IC's limit for code is similar).
pub const MAX_MODULE_BYTES: usize = 100 << 20;
/// Largest code section accepted (the IC's limit). Compiling code is what
/// costs: about a second per MiB of it on one of our cores.
pub const MAX_CODE_SECTION_BYTES: u32 = 11 << 20;
/// Most functions a module may define (the IC's limit).
pub const MAX_FUNCTIONS: u32 = 50_000;
/// Most globals a module may define (the IC's limit).
pub const MAX_GLOBALS: u32 = 1_000;
/// Instructions charged for compiling one WebAssembly instruction: the
/// IC's measure of what compiling costs against running (6,000).
pub const COMPILE_INSTRUCTIONS_PER_INSTRUCTION: u64 = 6_000;

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
    /// The module is over one of the limits on what compiling it may
    /// cost ([`MAX_CODE_SECTION_BYTES`], [`MAX_FUNCTIONS`], [`MAX_GLOBALS`]).
    #[error("the module has {count} {what}, more than the {limit} allowed")]
    OverLimit {
        /// What there is too much of.
        what: &'static str,
        /// How much there is.
        count: u64,
        /// How much is allowed.
        limit: u64,
    },
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
    /// The module changes state that is not saved between messages, so a
    /// node that restarted (or rolled back a trap) would diverge.
    #[error(
        "the module uses {0}, whose effect a restarted node could not restore; canisters may not"
    )]
    Unsupported(&'static str),
}

/// What an instance may change that the saved heap (memory, mutable
/// globals of number types, stable memory) does not hold: refused.
fn unsupported(operator: &wasmparser::Operator<'_>) -> Option<&'static str> {
    use wasmparser::Operator::*;
    Some(match operator {
        TableSet { .. } => "table.set",
        TableGrow { .. } => "table.grow",
        TableFill { .. } => "table.fill",
        TableCopy { .. } => "table.copy",
        TableInit { .. } => "table.init",
        ElemDrop { .. } => "elem.drop",
        DataDrop { .. } => "data.drop",
        _ => return None,
    })
}

/// A module ready for wasmtime, with what the instrumentation added.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The rewritten module.
    pub wasm: Vec<u8>,
    /// Indices of the mutable globals, in order (exported as [`global_export`]).
    pub mutable_globals: Vec<u32>,
    /// Whether the module has a start function (exported as [`START_EXPORT`]).
    pub has_start: bool,
    /// What compiling it is charged, in instructions: its WebAssembly
    /// instructions times [`COMPILE_INSTRUCTIONS_PER_INSTRUCTION`].
    pub compile_instructions: u64,
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
    code_bytes(wasm)?;
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
    let mut start = None;
    let mut instructions = 0u64;
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
                    let ty = global.map_err(invalid)?.ty;
                    if ty.mutable {
                        if matches!(ty.content_type, wasmparser::ValType::Ref(_)) {
                            return Err(ModuleError::Unsupported("a mutable reference global"));
                        }
                        mutable_globals.push(globals);
                    }
                    globals += 1;
                }
            }
            Payload::CodeSectionEntry(body) => {
                for operator in body.get_operators_reader().map_err(invalid)? {
                    if let Some(feature) = unsupported(&operator.map_err(invalid)?) {
                        return Err(ModuleError::Unsupported(feature));
                    }
                    instructions += 1;
                }
            }
            Payload::MemorySection(section) => memories += section.count(),
            Payload::TableSection(section) => tables += section.count(),
            Payload::StartSection { func, .. } => start = Some(func),
            _ => {}
        }
    }
    if memories != 1 {
        return Err(ModuleError::Memories(memories as usize));
    }
    let mut extra: Vec<(String, ExportKind, u32)> =
        vec![(MEMORY_EXPORT.into(), ExportKind::Memory, 0)];
    extra.extend(
        mutable_globals
            .iter()
            .map(|&index| (global_export(index), ExportKind::Global, index)),
    );
    if tables > 0 {
        extra.push((TABLE_EXPORT.to_string(), ExportKind::Table, 0));
    }
    if let Some(func) = start {
        extra.push((START_EXPORT.to_string(), ExportKind::Func, func));
    }
    Ok(Prepared {
        wasm: rewrite(wasm, &extra).map_err(invalid)?,
        mutable_globals,
        has_start: start.is_some(),
        compile_instructions: instructions.saturating_mul(COMPILE_INSTRUCTIONS_PER_INSTRUCTION),
    })
}

/// The size of `wasm`'s code section (unzipped), from the section headers:
/// what compiling it costs. Checks the headers against the limits on that
/// cost before anything reads the code.
///
/// # Errors
/// [`ModuleError::OverLimit`]; a malformed module is refused later, by
/// validation.
pub fn code_bytes(wasm: &[u8]) -> Result<u32, ModuleError> {
    let over = |what, count: u32, limit: u32| {
        (count > limit).then_some(ModuleError::OverLimit {
            what,
            count: count.into(),
            limit: limit.into(),
        })
    };
    for payload in Parser::new(0).parse_all(wasm) {
        let Ok(payload) = payload else {
            return Ok(0);
        };
        let refusal = match payload {
            Payload::FunctionSection(section) => over("functions", section.count(), MAX_FUNCTIONS),
            Payload::GlobalSection(section) => over("globals", section.count(), MAX_GLOBALS),
            // Past the code section's header, nothing more is limited.
            Payload::CodeSectionStart { size, .. } => {
                return match over("bytes of code", size, MAX_CODE_SECTION_BYTES) {
                    Some(refusal) => Err(refusal),
                    None => Ok(size),
                };
            }
            _ => None,
        };
        if let Some(refusal) = refusal {
            return Err(refusal);
        }
    }
    Ok(0)
}

/// Copies `wasm` section by section, adding `extra` to its exports (in a
/// new export section if it has none) and dropping its start section.
fn rewrite(
    wasm: &[u8],
    extra: &[(String, ExportKind, u32)],
) -> Result<Vec<u8>, wasmparser::BinaryReaderError> {
    let mut module = wasm_encoder::Module::new();
    let mut exported = false;
    let add_exports =
        |module: &mut wasm_encoder::Module,
         existing: Option<wasmparser::ExportSectionReader<'_>>| {
            let mut exports = ExportSection::new();
            for export in existing.into_iter().flatten() {
                let export = export?;
                let kind = match export.kind {
                    wasmparser::ExternalKind::Func | wasmparser::ExternalKind::FuncExact => {
                        ExportKind::Func
                    }
                    wasmparser::ExternalKind::Table => ExportKind::Table,
                    wasmparser::ExternalKind::Memory => ExportKind::Memory,
                    wasmparser::ExternalKind::Global => ExportKind::Global,
                    wasmparser::ExternalKind::Tag => ExportKind::Tag,
                };
                exports.export(export.name, kind, export.index);
            }
            for (name, kind, index) in extra {
                exports.export(name, *kind, *index);
            }
            module.section(&exports);
            Ok::<(), wasmparser::BinaryReaderError>(())
        };
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload?;
        match payload {
            Payload::ExportSection(reader) => {
                add_exports(&mut module, Some(reader))?;
                exported = true;
            }
            Payload::StartSection { .. } => {}
            payload => {
                let Some((id, range)) = payload.as_section() else {
                    continue;
                };
                // Start, element, data count, code and data follow exports.
                if !exported && matches!(id, 8..=12) {
                    add_exports(&mut module, None)?;
                    exported = true;
                }
                module.section(&RawSection {
                    id,
                    data: &wasm[range],
                });
            }
        }
    }
    if !exported {
        add_exports(&mut module, None)?;
    }
    Ok(module.finish())
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
        assert!(!prepared.has_start);
        assert_eq!(
            exports(&prepared.wasm),
            [
                "canister_init",
                "__chainkey_memory",
                "__chainkey_global_1",
                "__chainkey_table"
            ]
        );
        // A module without exports gets an export section; its start
        // function is exported instead of run at instantiation.
        let bare = wat::parse_str(
            "(module (memory 1) (global (mut i32) (i32.const 0)) (func $s) (start $s))",
        )
        .unwrap();
        let prepared = prepare(&bare, |_| true).unwrap();
        assert!(prepared.has_start);
        assert_eq!(
            exports(&prepared.wasm),
            [
                "__chainkey_memory",
                "__chainkey_global_0",
                "__chainkey_start"
            ]
        );
        wasmparser::Validator::new()
            .validate_all(&prepared.wasm)
            .unwrap();
        assert!(!Parser::new(0)
            .parse_all(&prepared.wasm)
            .any(|p| matches!(p, Ok(Payload::StartSection { .. }))));
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
        assert_eq!(
            prepare(&no_memory, |_| true).unwrap_err(),
            ModuleError::Memories(0)
        );
    }

    #[test]
    fn refuses_state_a_restart_would_lose() {
        for (body, feature) in [
            ("(table.set (i32.const 0) (ref.null func))", "table.set"),
            (
                "(drop (table.grow (ref.null func) (i32.const 1)))",
                "table.grow",
            ),
            ("(data.drop 0)", "data.drop"),
            ("(elem.drop 0)", "elem.drop"),
        ] {
            let wasm = wat::parse_str(format!(
                r#"(module (memory 1) (table 1 funcref) (data "x") (elem func $f)
                     (func $f {body}))"#
            ))
            .unwrap();
            assert_eq!(
                prepare(&wasm, |_| true).unwrap_err(),
                ModuleError::Unsupported(feature)
            );
        }
        let global =
            wat::parse_str("(module (memory 1) (global (mut funcref) (ref.null func)))").unwrap();
        assert!(matches!(
            prepare(&global, |_| true),
            Err(ModuleError::Unsupported(_))
        ));
        // memory.init of a passive segment is fine: a fresh instance has it too.
        let init = wat::parse_str(
            r#"(module (memory 1) (data "x") (func (memory.init 0 (i32.const 0) (i32.const 0) (i32.const 1))))"#,
        )
        .unwrap();
        assert!(prepare(&init, |_| true).is_ok());
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

    /// A module of `functions` functions of `ops` no-ops each and
    /// `globals` immutable globals, built here instruction by instruction.
    fn module(functions: u32, ops: usize, globals: u32) -> Vec<u8> {
        use wasm_encoder::{
            CodeSection, ConstExpr, Function, FunctionSection, GlobalSection, GlobalType,
            Instruction, MemorySection, MemoryType, Module, TypeSection, ValType,
        };
        let mut module = Module::new();
        let mut types = TypeSection::new();
        types.ty().function([], []);
        module.section(&types);
        let mut declared = FunctionSection::new();
        (0..functions).for_each(|_| {
            declared.function(0);
        });
        module.section(&declared);
        let mut memory = MemorySection::new();
        memory.memory(MemoryType {
            minimum: 1,
            maximum: None,
            memory64: false,
            shared: false,
            page_size_log2: None,
        });
        module.section(&memory);
        let mut defined = GlobalSection::new();
        (0..globals).for_each(|_| {
            let ty = GlobalType {
                val_type: ValType::I32,
                mutable: false,
                shared: false,
            };
            defined.global(ty, &ConstExpr::i32_const(0));
        });
        module.section(&defined);
        let mut code = CodeSection::new();
        let mut body = Function::new([]);
        (0..ops).for_each(|_| {
            body.instruction(&Instruction::Nop);
        });
        body.instruction(&Instruction::End);
        (0..functions).for_each(|_| {
            code.function(&body);
        });
        module.section(&code);
        module.finish()
    }

    /// What compiling costs is bounded before anything compiles (the IC's
    /// limits on code, functions and globals), and charged by the module's
    /// instructions.
    #[test]
    fn modules_over_the_compile_limits_are_refused_and_the_rest_charged() {
        let prepared = prepare(&module(3, 10, 2), |_| true).unwrap();
        // 3 bodies of 10 no-ops and an `end`.
        assert_eq!(
            prepared.compile_instructions,
            3 * 11 * COMPILE_INSTRUCTIONS_PER_INSTRUCTION
        );
        let over = |wasm: Vec<u8>| match prepare(&wasm, |_| true) {
            Err(ModuleError::OverLimit { what, .. }) => what,
            other => panic!("{other:?}"),
        };
        assert!(prepare(&module(MAX_FUNCTIONS, 0, MAX_GLOBALS), |_| true).is_ok());
        assert_eq!(over(module(MAX_FUNCTIONS + 1, 0, 0)), "functions");
        assert_eq!(over(module(1, 0, MAX_GLOBALS + 1)), "globals");
        // Two functions of about 5.5 MiB of code each are over the
        // 11 MiB (a no-op is one byte).
        let half = MAX_CODE_SECTION_BYTES as usize / 2;
        assert_eq!(over(module(2, half + 1, 0)), "bytes of code");
    }
}
