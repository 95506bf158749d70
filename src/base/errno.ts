/**
 * The errno values the simulated kernel returns (asm-generic/errno-base.h, errno.h)
 * with the C library's strerror() texts, which is what a shell prints for a failed `echo`.
 */
export const ERRNO = {
  EPERM: [1, 'Operation not permitted'],
  ENOENT: [2, 'No such file or directory'],
  EIO: [5, 'Input/output error'],
  ENXIO: [6, 'No such device or address'],
  EBADF: [9, 'Bad file descriptor'],
  EAGAIN: [11, 'Resource temporarily unavailable'],
  EWOULDBLOCK: [11, 'Resource temporarily unavailable'],
  ELOOP: [40, 'Too many levels of symbolic links'],
  ENOMEM: [12, 'Cannot allocate memory'],
  EACCES: [13, 'Permission denied'],
  EFAULT: [14, 'Bad address'],
  EBUSY: [16, 'Device or resource busy'],
  EEXIST: [17, 'File exists'],
  ENODEV: [19, 'No such device'],
  ENOTDIR: [20, 'Not a directory'],
  EISDIR: [21, 'Is a directory'],
  EINVAL: [22, 'Invalid argument'],
  ENOSPC: [28, 'No space left on device'],
  EROFS: [30, 'Read-only file system'],
  ENAMETOOLONG: [36, 'File name too long'],
  ENOTEMPTY: [39, 'Directory not empty'],
  ENOTTY: [25, 'Inappropriate ioctl for device'],
  ETIMEDOUT: [110, 'Connection timed out'],
  EBADFD: [77, 'File descriptor in bad state'],
  EPROBE_DEFER: [517, 'Probe deferred'],
} as const;

export type ErrnoName = keyof typeof ERRNO;

export function errnoNumber(name: ErrnoName): number {
  return ERRNO[name][0];
}

export function errnoText(name: ErrnoName): string {
  return ERRNO[name][1];
}

export function isErrnoName(s: string): s is ErrnoName {
  return Object.prototype.hasOwnProperty.call(ERRNO, s);
}
