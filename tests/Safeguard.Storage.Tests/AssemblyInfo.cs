using System.Runtime.Versioning;

// Safeguard runs on Linux.
[assembly: SupportedOSPlatform("linux")]
