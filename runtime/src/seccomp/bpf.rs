//! A small classic-BPF assembler: instructions with symbolic forward jump
//! targets, resolved into the kernel's `struct sock_filter` layout. Long
//! distances use `ja` (32-bit offset); conditional jumps (8-bit offsets)
//! are checked when resolved.

use super::SeccompError;

/// `BPF_LD | BPF_W | BPF_ABS`: load the 32-bit word at offset `k`.
const LD_W_ABS: u16 = 0x20;
/// `BPF_ALU | BPF_AND | BPF_K`.
const ALU_AND_K: u16 = 0x54;
/// `BPF_JMP | BPF_JA`.
const JMP_JA: u16 = 0x05;
/// `BPF_RET | BPF_K`.
const RET_K: u16 = 0x06;

/// The kernel accepts at most this many instructions (`BPF_MAXINSNS`).
pub const MAX_INSNS: usize = 4096;

/// One instruction, laid out as the kernel's `struct sock_filter`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SockFilter {
    /// Opcode.
    pub code: u16,
    /// Jump offset when the condition holds.
    pub jt: u8,
    /// Jump offset when it does not.
    pub jf: u8,
    /// Operand.
    pub k: u32,
}

/// Conditional jumps against the constant `k` (`BPF_JMP | op | BPF_K`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cond {
    /// `A == k`.
    Eq = 0x15,
    /// `A > k` (unsigned).
    Gt = 0x25,
    /// `A >= k` (unsigned).
    Ge = 0x35,
}

/// A forward jump target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The next instruction.
    Next,
    /// A label bound later with [`Asm::bind`].
    Label(usize),
}

#[derive(Debug)]
enum Op {
    Stmt {
        code: u16,
        k: u32,
    },
    Jump {
        cond: Cond,
        k: u32,
        jt: Target,
        jf: Target,
    },
    Ja(usize),
    Bind(usize),
}

/// The assembler: append instructions, then [`Asm::finish`].
#[derive(Debug, Default)]
pub struct Asm {
    ops: Vec<Op>,
    labels: usize,
}

impl Asm {
    /// A fresh, unbound label.
    pub fn label(&mut self) -> usize {
        self.labels += 1;
        self.labels - 1
    }

    /// Binds `label` to the next instruction appended.
    pub fn bind(&mut self, label: usize) {
        self.ops.push(Op::Bind(label));
    }

    /// `A = seccomp_data[offset..offset + 4]`.
    pub fn load(&mut self, offset: u32) {
        self.ops.push(Op::Stmt {
            code: LD_W_ABS,
            k: offset,
        });
    }

    /// `A &= k`.
    pub fn and(&mut self, k: u32) {
        self.ops.push(Op::Stmt { code: ALU_AND_K, k });
    }

    /// Returns `k` (a `SECCOMP_RET_*` value) to the kernel.
    pub fn ret(&mut self, k: u32) {
        self.ops.push(Op::Stmt { code: RET_K, k });
    }

    /// Jumps to `jt` when `A <cond> k`, else to `jf`.
    pub fn jump(&mut self, cond: Cond, k: u32, jt: Target, jf: Target) {
        self.ops.push(Op::Jump { cond, k, jt, jf });
    }

    /// Jumps to `label` unconditionally (any distance).
    pub fn ja(&mut self, label: usize) {
        self.ops.push(Op::Ja(label));
    }

    /// Resolves the labels. `what` names the program in errors about
    /// conditional jumps that do not reach.
    pub fn finish(self, what: impl Fn() -> String) -> Result<Vec<SockFilter>, SeccompError> {
        let mut at = vec![usize::MAX; self.labels];
        let mut pc = 0;
        for op in &self.ops {
            match op {
                Op::Bind(l) => at[*l] = pc,
                _ => pc += 1,
            }
        }
        if pc > MAX_INSNS {
            return Err(SeccompError::TooLarge(pc));
        }
        let mut out = Vec::with_capacity(pc);
        for op in self.ops {
            let here = out.len();
            let offset = |t: Target| -> Result<u8, SeccompError> {
                let dist = match t {
                    Target::Next => 0,
                    Target::Label(l) => distance(&at, l, here),
                };
                u8::try_from(dist).map_err(|_| SeccompError::TooComplex(what()))
            };
            match op {
                Op::Bind(_) => continue,
                Op::Stmt { code, k } => out.push(SockFilter {
                    code,
                    jt: 0,
                    jf: 0,
                    k,
                }),
                Op::Jump { cond, k, jt, jf } => out.push(SockFilter {
                    code: cond as u16,
                    jt: offset(jt)?,
                    jf: offset(jf)?,
                    k,
                }),
                Op::Ja(l) => out.push(SockFilter {
                    code: JMP_JA,
                    jt: 0,
                    jf: 0,
                    k: distance(&at, l, here) as u32,
                }),
            }
        }
        Ok(out)
    }
}

/// Instructions skipped jumping from `here` to label `l`. Labels are only
/// ever bound after their uses: the generator jumps forward only.
fn distance(at: &[usize], l: usize, here: usize) -> usize {
    let target = at[l];
    assert!(
        target != usize::MAX && target > here,
        "BPF label {l} unbound or backward"
    );
    target - here - 1
}

/// Runs `program` over a `seccomp_data` the way the kernel would and returns
/// the verdict: a test oracle for the generator.
#[cfg(test)]
pub fn run(program: &[SockFilter], nr: u32, arch: u32, args: [u64; 6]) -> u32 {
    let mut data = Vec::with_capacity(64);
    data.extend_from_slice(&nr.to_ne_bytes());
    data.extend_from_slice(&arch.to_ne_bytes());
    data.extend_from_slice(&0u64.to_ne_bytes());
    for a in args {
        data.extend_from_slice(&a.to_ne_bytes());
    }
    let (mut pc, mut acc) = (0usize, 0u32);
    loop {
        let i = program[pc];
        pc += 1;
        match i.code {
            LD_W_ABS => {
                let o = i.k as usize;
                acc = u32::from_ne_bytes(data[o..o + 4].try_into().unwrap());
            }
            ALU_AND_K => acc &= i.k,
            RET_K => return i.k,
            JMP_JA => pc += i.k as usize,
            code => {
                let hit = match code {
                    0x15 => acc == i.k,
                    0x25 => acc > i.k,
                    0x35 => acc >= i.k,
                    other => panic!("unexpected opcode {other:#x}"),
                };
                pc += usize::from(if hit { i.jt } else { i.jf });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seccomp_bpf_labels_resolve_forward() {
        let mut a = Asm::default();
        let l = a.label();
        a.load(0);
        a.jump(Cond::Eq, 7, Target::Label(l), Target::Next);
        a.ret(1);
        a.bind(l);
        a.ret(2);
        let p = a.finish(String::new).unwrap();
        assert_eq!(p.len(), 4);
        assert_eq!((p[1].jt, p[1].jf), (1, 0));
        assert_eq!(run(&p, 7, 0, [0; 6]), 2);
        assert_eq!(run(&p, 8, 0, [0; 6]), 1);
    }

    #[test]
    fn seccomp_bpf_long_conditional_jump_is_an_error() {
        let mut a = Asm::default();
        let l = a.label();
        a.jump(Cond::Eq, 0, Target::Label(l), Target::Next);
        for _ in 0..300 {
            a.and(1);
        }
        a.bind(l);
        a.ret(0);
        let err = a.finish(|| "rule".into()).unwrap_err();
        assert!(matches!(err, SeccompError::TooComplex(_)), "{err}");
    }
}
