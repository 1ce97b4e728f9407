using Safeguard.Hosting;
using Safeguard.Storage.Data;

namespace Safeguard.Storage.Tests.Data;

/// <summary>164.312(e) for the database: PostgreSQL beyond this machine only over TLS that proves the server; passwords kept out of the command line.</summary>
public sealed class DatabaseOptionsValidatorTests
{
    [Theory]
    [InlineData("Host=db.internal;Database=safeguard;Username=sg")]
    [InlineData("Host=db.internal;Database=safeguard;Username=sg;SSL Mode=Prefer")]
    [InlineData("Host=db.internal;Database=safeguard;Username=sg;SSL Mode=Require")]
    [InlineData("Host=10.0.0.5;Database=safeguard;Username=sg;SSL Mode=Disable")]
    [InlineData("Host=127.0.0.1,db.internal;Database=safeguard;Username=sg")]
    public void PostgreSqlOnAnotherMachine_WithoutVerifiedTls_IsRefused_SayingWhy(string connectionString)
    {
        var result = Validate(connectionString);

        Assert.True(result.Failed);
        Assert.Contains("SSL Mode=VerifyFull", Assert.Single(result.Failures!), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Host=db.internal;Database=safeguard;Username=sg;SSL Mode=VerifyFull")]
    [InlineData("Host=db.internal;Database=safeguard;Username=sg;SSL Mode=VerifyCA")]
    [InlineData("Host=127.0.0.1;Port=5432;Database=safeguard;Username=sg")]
    [InlineData("Host=localhost;Database=safeguard;Username=sg")]
    [InlineData("Host=::1;Database=safeguard;Username=sg")]
    [InlineData("Host=/var/run/postgresql;Database=safeguard;Username=sg")]
    public void VerifiedTls_OrThisMachine_IsAccepted(string connectionString)
    {
        var result = Validate(connectionString);

        Assert.True(result.Succeeded, string.Join(" | ", result.Failures ?? []));
    }

    [Fact]
    public void APasswordFile_MustBeTheOwnersAlone_AndItsPasswordIsUsed()
    {
        var folder = Directory.CreateTempSubdirectory("sg-pgpass-").FullName;
        try
        {
            var file = Path.Combine(folder, "password");
            File.WriteAllText(file, "s3cret-from-a-file\n");
            File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
            var options = new DatabaseOptions { Provider = DatabaseProvider.PostgreSql, ConnectionString = "Host=127.0.0.1;Database=sg;Username=sg", PasswordFile = file };

            var open = new DatabaseOptionsValidator().Validate(null, options);
            File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            var closed = new DatabaseOptionsValidator().Validate(null, options);
            using var database = SafeguardDatabase.Open(options, SafeguardDataFolder.At(folder));

            Assert.Contains("chmod 600", Assert.Single(open.Failures!), StringComparison.Ordinal);
            Assert.True(closed.Succeeded);
            Assert.Contains("Password=s3cret-from-a-file", database.ConnectionString, StringComparison.Ordinal);
            Assert.False(new DatabaseOptionsValidator().Validate(null, options with { PasswordFile = Path.Combine(folder, "missing") }).Succeeded);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static Microsoft.Extensions.Options.ValidateOptionsResult Validate(string connectionString) =>
        new DatabaseOptionsValidator().Validate(null, new DatabaseOptions { Provider = DatabaseProvider.PostgreSql, ConnectionString = connectionString });
}
