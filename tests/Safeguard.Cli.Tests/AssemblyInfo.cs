using System.Runtime.Versioning;

// Safeguard runs on Linux; the data-folder tests check POSIX permissions.
[assembly: SupportedOSPlatform("linux")]

// Tests here set SAFEGUARD_KEK; run them one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
