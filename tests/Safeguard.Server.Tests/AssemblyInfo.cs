using System.Runtime.Versioning;

// Safeguard runs on Linux; these tests check POSIX permissions and use OpenSSL's command line.
[assembly: SupportedOSPlatform("linux")]

// Each test class starts real Kestrel hosts; on two cores, one class at a time keeps timings sane.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
