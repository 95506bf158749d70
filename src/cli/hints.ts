/**
 * Advice for a refusal, worded by the CLI from the facts the kernel model returns
 * (KernelError.reason). The domain never names a vfioctl command; this is the one place
 * that turns a situation into "run: vfioctl …".
 */
import type { KernelError, Reason } from '../base/errors.js';

type Words = (r: Reason) => string | undefined;

/** One entry per Reason.kind. */
const HINTS: Record<string, Words> = {};

/** The hint line for a refusal: worded from its reason, else the domain's command-free hint. */
export function hintFor(e: KernelError): string | undefined {
  const words = e.reason ? HINTS[e.reason.kind] : undefined;
  return (words && words(e.reason!)) ?? e.hint;
}
