/** The state file's format name and versions (see codec.ts for what each version holds). */
export const STATE_FORMAT = 'vfioctl-state';
export const STATE_VERSION = 2;
/** the oldest format version this vfioctl reads (and migrates) */
export const STATE_OLDEST_VERSION = 1;
