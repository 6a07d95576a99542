//! Argument conditions: a 64-bit comparison of one system call argument,
//! built from 32-bit BPF loads of its two halves (classic BPF has only a
//! 32-bit accumulator).
//!
//! Both supported architectures are 64-bit and little-endian: argument `i`
//! lives at `seccomp_data` offset `16 + 8 * i`, low word first. Arguments
//! are compared on all 64 bits, as libseccomp does on 64-bit ABIs.

use oci_spec::runtime::LinuxSeccompOperator as Op;

use super::bpf::{Asm, Cond, Target};

/// Offset of `args[0]` in `struct seccomp_data`.
const ARGS_OFFSET: u32 = 16;

/// One `args` entry of a rule, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgCond {
    /// Argument index, 0 to 5.
    pub index: u8,
    /// The comparison.
    pub op: Op,
    /// The value compared against (for masked-eq: the mask).
    pub value: u64,
    /// For masked-eq: the value the masked argument must equal.
    pub value_two: u64,
}

fn hi(v: u64) -> u32 {
    (v >> 32) as u32
}

fn lo(v: u64) -> u32 {
    v as u32
}

/// Emits `cond`: falls through when it holds, jumps to `fail` when not.
pub fn emit(asm: &mut Asm, cond: &ArgCond, fail: usize) {
    let lo_off = ARGS_OFFSET + 8 * u32::from(cond.index);
    let hi_off = lo_off + 4;
    let (v, fail) = (cond.value, Target::Label(fail));
    let pass = asm.label();
    let ok = Target::Label(pass);
    match cond.op {
        Op::ScmpCmpEq => {
            asm.load(hi_off);
            asm.jump(Cond::Eq, hi(v), Target::Next, fail);
            asm.load(lo_off);
            asm.jump(Cond::Eq, lo(v), Target::Next, fail);
        }
        Op::ScmpCmpNe => {
            asm.load(hi_off);
            asm.jump(Cond::Eq, hi(v), Target::Next, ok);
            asm.load(lo_off);
            asm.jump(Cond::Eq, lo(v), fail, Target::Next);
        }
        Op::ScmpCmpMaskedEq => {
            let (mask, want) = (v, cond.value_two);
            asm.load(hi_off);
            asm.and(hi(mask));
            asm.jump(Cond::Eq, hi(want), Target::Next, fail);
            asm.load(lo_off);
            asm.and(lo(mask));
            asm.jump(Cond::Eq, lo(want), Target::Next, fail);
        }
        // Greater: decided by the high word unless the high words are
        // equal, then by the low word.
        Op::ScmpCmpGt | Op::ScmpCmpGe => {
            asm.load(hi_off);
            asm.jump(Cond::Gt, hi(v), ok, Target::Next);
            asm.jump(Cond::Eq, hi(v), Target::Next, fail);
            asm.load(lo_off);
            let low = if cond.op == Op::ScmpCmpGt {
                Cond::Gt
            } else {
                Cond::Ge
            };
            asm.jump(low, lo(v), Target::Next, fail);
        }
        // Less: the negation of greater-or-equal (for <) or greater (<=).
        Op::ScmpCmpLt | Op::ScmpCmpLe => {
            asm.load(hi_off);
            asm.jump(Cond::Gt, hi(v), fail, Target::Next);
            asm.jump(Cond::Eq, hi(v), Target::Next, ok);
            asm.load(lo_off);
            let low = if cond.op == Op::ScmpCmpLt {
                Cond::Ge
            } else {
                Cond::Gt
            };
            asm.jump(low, lo(v), fail, Target::Next);
        }
    }
    asm.bind(pass);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seccomp::bpf::run;

    /// Whether `arg0 <op> value` holds according to the generated code.
    fn holds(op: Op, value: u64, value_two: u64, arg: u64) -> bool {
        let mut asm = Asm::default();
        let fail = asm.label();
        let cond = ArgCond {
            index: 0,
            op,
            value,
            value_two,
        };
        emit(&mut asm, &cond, fail);
        asm.ret(1);
        asm.bind(fail);
        asm.ret(0);
        let prog = asm.finish(String::new).unwrap();
        run(&prog, 0, 0, [arg, 0, 0, 0, 0, 0]) == 1
    }

    const SAMPLES: [u64; 10] = [
        0,
        1,
        0xffff_ffff,
        0x1_0000_0000,
        0x1_0000_0001,
        0x1_ffff_ffff,
        0x2_0000_0000,
        0x7fff_ffff_ffff_ffff,
        0xffff_ffff_0000_0000,
        u64::MAX,
    ];

    #[test]
    fn seccomp_every_operator_matches_64_bit_semantics() {
        for &v in &SAMPLES {
            for &a in &SAMPLES {
                assert_eq!(holds(Op::ScmpCmpEq, v, 0, a), a == v, "{a:#x} == {v:#x}");
                assert_eq!(holds(Op::ScmpCmpNe, v, 0, a), a != v, "{a:#x} != {v:#x}");
                assert_eq!(holds(Op::ScmpCmpGt, v, 0, a), a > v, "{a:#x} > {v:#x}");
                assert_eq!(holds(Op::ScmpCmpGe, v, 0, a), a >= v, "{a:#x} >= {v:#x}");
                assert_eq!(holds(Op::ScmpCmpLt, v, 0, a), a < v, "{a:#x} < {v:#x}");
                assert_eq!(holds(Op::ScmpCmpLe, v, 0, a), a <= v, "{a:#x} <= {v:#x}");
                for &want in &[0, v & a, 1] {
                    assert_eq!(
                        holds(Op::ScmpCmpMaskedEq, v, want, a),
                        a & v == want,
                        "{a:#x} & {v:#x} == {want:#x}"
                    );
                }
            }
        }
    }
}
