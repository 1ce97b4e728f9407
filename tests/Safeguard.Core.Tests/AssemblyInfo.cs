using System.Runtime.Versioning;

// Safeguard runs on Linux; the key-file tests check POSIX permissions.
[assembly: SupportedOSPlatform("linux")]
