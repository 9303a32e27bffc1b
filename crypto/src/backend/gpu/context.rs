//! The wgpu device, the compiled kernels and a pool of reusable buffers.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use wgpu::util::DeviceExt;

use super::GpuError;

/// Set to `1` to make "no GPU adapter" an error instead of a CPU fallback
/// (CI sets it so GPU tests run on lavapipe rather than skip).
pub const REQUIRE_GPU_VAR: &str = "CHAINKEY_REQUIRE_GPU";

/// The generated kernel modules (see `crypto/build.rs`).
pub(crate) mod sources {
    pub(crate) const MSM_G1: &str = include_str!(concat!(env!("OUT_DIR"), "/msm_g1.wgsl"));
    pub(crate) const MSM_G2: &str = include_str!(concat!(env!("OUT_DIR"), "/msm_g2.wgsl"));
    pub(crate) const HASH_TO_G1: &str = include_str!(concat!(env!("OUT_DIR"), "/hash_to_g1.wgsl"));
    #[cfg(test)]
    pub(crate) const FIELD_OPS: &str = include_str!(concat!(env!("OUT_DIR"), "/field_ops.wgsl"));
}

/// One compute entry point, compiled on first use: lavapipe's LLVM takes
/// seconds per kernel, so a process compiles only the kernels it runs.
pub(crate) struct Kernel {
    source: &'static str,
    entry: &'static str,
    pipeline: OnceLock<wgpu::ComputePipeline>,
}

impl Kernel {
    pub(crate) const fn new(source: &'static str, entry: &'static str) -> Self {
        Kernel {
            source,
            entry,
            pipeline: OnceLock::new(),
        }
    }
}

/// The accumulate and reduce kernels of one group's MSM.
pub(crate) struct MsmKernels {
    pub(crate) accumulate: Kernel,
    pub(crate) reduce: Kernel,
}

/// A GPU ready to run chainkey's kernels.
pub struct GpuContext {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    pub(crate) msm_g1: MsmKernels,
    pub(crate) msm_g2: MsmKernels,
    pub(crate) hash_to_g1: Kernel,
    pool: BufferPool,
}

impl std::fmt::Debug for GpuContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuContext")
            .field("adapter", &self.describe())
            .finish()
    }
}

impl GpuContext {
    /// Finds an adapter (any Vulkan, Metal or DX12 device, software ones
    /// such as lavapipe included) and opens it. Kernels are compiled when
    /// first used, or all at once by [`GpuContext::compile_all`].
    ///
    /// # Errors
    /// [`GpuError::NoAdapter`] when the machine has none; [`GpuError::Device`]
    /// when it cannot be opened.
    pub fn new() -> Result<Self, GpuError> {
        let instance =
            wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            ..Default::default()
        }))?;
        let (device, queue) =
            pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
                label: Some("chainkey"),
                required_limits: adapter.limits(),
                ..Default::default()
            }))?;
        Ok(GpuContext {
            msm_g1: MsmKernels {
                accumulate: Kernel::new(sources::MSM_G1, "accumulate"),
                reduce: Kernel::new(sources::MSM_G1, "reduce"),
            },
            msm_g2: MsmKernels {
                accumulate: Kernel::new(sources::MSM_G2, "accumulate"),
                reduce: Kernel::new(sources::MSM_G2, "reduce"),
            },
            hash_to_g1: Kernel::new(sources::HASH_TO_G1, "hash_to_g1"),
            info: adapter.get_info(),
            device,
            queue,
            pool: BufferPool::default(),
        })
    }

    /// Compiles every kernel now (benchmarks call this so compilation is
    /// not timed as work).
    ///
    /// # Errors
    /// [`GpuError::Kernel`] when the driver rejects a kernel.
    pub fn compile_all(&self) -> Result<(), GpuError> {
        for kernel in [
            &self.msm_g1.accumulate,
            &self.msm_g1.reduce,
            &self.msm_g2.accumulate,
            &self.msm_g2.reduce,
            &self.hash_to_g1,
        ] {
            self.compiled(kernel)?;
        }
        Ok(())
    }

    /// `kernel`'s pipeline, compiled on the first call.
    pub(crate) fn compiled<'a>(
        &self,
        kernel: &'a Kernel,
    ) -> Result<&'a wgpu::ComputePipeline, GpuError> {
        if let Some(pipeline) = kernel.pipeline.get() {
            return Ok(pipeline);
        }
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = self
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(kernel.entry),
                source: wgpu::ShaderSource::Wgsl(kernel.source.into()),
            });
        let pipeline = self
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(kernel.entry),
                layout: None,
                module: &module,
                entry_point: Some(kernel.entry),
                compilation_options: Default::default(),
                cache: None,
            });
        if let Some(error) = pollster::block_on(scope.pop()) {
            return Err(GpuError::Kernel {
                kernel: kernel.entry,
                error,
            });
        }
        Ok(kernel.pipeline.get_or_init(|| pipeline))
    }

    /// [`GpuContext::new`], or `None` with one logged line when there is no
    /// adapter — unless [`REQUIRE_GPU_VAR`] is `1`, which makes it an error.
    ///
    /// # Errors
    /// Any [`GpuError`] when the GPU is required.
    pub fn discover() -> Result<Option<Self>, GpuError> {
        match Self::new() {
            Ok(context) => Ok(Some(context)),
            Err(error) if std::env::var(REQUIRE_GPU_VAR).as_deref() != Ok("1") => {
                tracing::warn!("no usable GPU ({error}); using the CPU backend");
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }

    /// Adapter name, backend and driver, e.g. "llvmpipe (LLVM 15.0.6, 256 bits) on Vulkan, driver llvmpipe".
    pub fn describe(&self) -> String {
        format!(
            "{} ({:?}) on {:?}, driver {} {}",
            self.info.name,
            self.info.device_type,
            self.info.backend,
            self.info.driver,
            self.info.driver_info
        )
    }

    /// Whether the adapter is a software renderer (lavapipe, WARP): fine for
    /// testing the kernels, never faster than the CPU backend.
    pub fn is_software(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }

    /// A storage buffer holding `words`, from the pool when one is free.
    pub(crate) fn upload(&self, words: &[u32]) -> PooledBuffer {
        let bytes = (words.len().max(1) * 4) as u64;
        let buffer = self.pool.take(
            &self.device,
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
            bytes,
        );
        if !words.is_empty() {
            self.queue
                .write_buffer(&buffer.buffer, 0, words_as_bytes(words));
        }
        buffer
    }

    /// An uninitialised storage buffer of `words` words that can be read back.
    pub(crate) fn output(&self, words: usize) -> PooledBuffer {
        let bytes = (words.max(1) * 4) as u64;
        self.pool.take(
            &self.device,
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            bytes,
        )
    }

    /// A small read-only buffer of kernel parameters (created per call: a
    /// few bytes). A storage buffer, not a uniform one: lavapipe inlines
    /// uniform values into the shader and recompiles it for every new value
    /// (seconds per MSM size), and must not see `runtime_zero` as a constant.
    pub(crate) fn parameters(&self, words: &[u32]) -> wgpu::Buffer {
        self.device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("params"),
                contents: words_as_bytes(words),
                usage: wgpu::BufferUsages::STORAGE,
            })
    }

    /// Binds `(binding, buffer)` pairs in the pipeline's group 0 (only the
    /// bindings its entry point uses).
    pub(crate) fn bind(
        &self,
        pipeline: &wgpu::ComputePipeline,
        buffers: &[(u32, &wgpu::Buffer)],
    ) -> wgpu::BindGroup {
        let entries: Vec<wgpu::BindGroupEntry> = buffers
            .iter()
            .map(|&(binding, buffer)| wgpu::BindGroupEntry {
                binding,
                resource: buffer.as_entire_binding(),
            })
            .collect();
        self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        })
    }

    /// Copies the first `words` words of `source` to a mappable buffer after
    /// the commands in `encoder`, submits, and returns a handle to wait on.
    pub(crate) fn submit_with_readback(
        &self,
        mut encoder: wgpu::CommandEncoder,
        source: &PooledBuffer,
        words: usize,
    ) -> Readback {
        let bytes = (words.max(1) * 4) as u64;
        let staging = self.pool.take(
            &self.device,
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            bytes,
        );
        encoder.copy_buffer_to_buffer(&source.buffer, 0, &staging.buffer, 0, bytes);
        self.queue.submit(Some(encoder.finish()));
        let (sender, receiver) = std::sync::mpsc::channel();
        staging
            .buffer
            .map_async(wgpu::MapMode::Read, ..bytes, move |result| {
                let _ = sender.send(result);
            });
        Readback {
            staging,
            receiver,
            words,
        }
    }

    /// Waits for a readback and returns its words; the buffer goes back to the pool.
    pub(crate) fn finish(&self, readback: Readback) -> Result<Vec<u32>, GpuError> {
        self.device.poll(wgpu::PollType::wait_indefinitely())?;
        readback
            .receiver
            .recv()
            .map_err(|_| GpuError::ReadbackDropped)??;
        let words = {
            let view = readback
                .staging
                .buffer
                .get_mapped_range(..(readback.words.max(1) * 4) as u64)?;
            view.chunks_exact(4)
                .take(readback.words)
                .map(|bytes| u32::from_le_bytes(bytes.try_into().expect("4 bytes")))
                .collect()
        };
        readback.staging.buffer.unmap();
        self.recycle(readback.staging);
        Ok(words)
    }

    /// Returns a buffer to the pool.
    pub(crate) fn recycle(&self, buffer: PooledBuffer) {
        self.pool.give_back(buffer);
    }

    /// A command encoder.
    pub(crate) fn encoder(&self) -> wgpu::CommandEncoder {
        self.device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None })
    }
}

/// Records one compute dispatch of `invocations` threads (64 per workgroup).
pub(crate) fn dispatch(
    encoder: &mut wgpu::CommandEncoder,
    pipeline: &wgpu::ComputePipeline,
    bind_group: &wgpu::BindGroup,
    invocations: usize,
) {
    let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
    pass.set_pipeline(pipeline);
    pass.set_bind_group(0, bind_group, &[]);
    pass.dispatch_workgroups(invocations.div_ceil(64).max(1) as u32, 1, 1);
}

fn words_as_bytes(words: &[u32]) -> &[u8] {
    // SAFETY: u32 has no padding and u8 has alignment 1; the length is exact.
    unsafe { std::slice::from_raw_parts(words.as_ptr().cast::<u8>(), std::mem::size_of_val(words)) }
}

/// A mapped-buffer read in flight.
pub(crate) struct Readback {
    staging: PooledBuffer,
    receiver: std::sync::mpsc::Receiver<Result<(), wgpu::BufferAsyncError>>,
    words: usize,
}

/// A buffer borrowed from the pool.
pub(crate) struct PooledBuffer {
    pub(crate) buffer: wgpu::Buffer,
    usage: wgpu::BufferUsages,
}

/// Reusable buffers by usage and power-of-two size: repeated batches of
/// similar size allocate nothing on the device after the first.
#[derive(Default)]
struct BufferPool {
    free: Mutex<HashMap<(u32, u64), Vec<wgpu::Buffer>>>,
}

impl BufferPool {
    /// Largest number of idle buffers kept per (usage, size) class.
    const KEEP: usize = 8;

    fn take(&self, device: &wgpu::Device, usage: wgpu::BufferUsages, bytes: u64) -> PooledBuffer {
        let size = bytes.next_power_of_two().max(256);
        let key = (usage.bits(), size);
        let reused = self
            .free
            .lock()
            .expect("pool lock")
            .get_mut(&key)
            .and_then(Vec::pop);
        let buffer = reused.unwrap_or_else(|| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("chainkey pooled"),
                size,
                usage,
                mapped_at_creation: false,
            })
        });
        PooledBuffer { buffer, usage }
    }

    fn give_back(&self, buffer: PooledBuffer) {
        let key = (buffer.usage.bits(), buffer.buffer.size());
        let mut free = self.free.lock().expect("pool lock");
        let list = free.entry(key).or_default();
        if list.len() < Self::KEEP {
            list.push(buffer.buffer);
        }
    }
}
