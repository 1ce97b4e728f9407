using System.Security.Cryptography;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Safeguard.Keys;

namespace Safeguard.Tests.Keys;

public sealed class KeyProtectionTests
{
    [Fact]
    public async Task Load_WithTheWrongKek_FailsNamingBothKeks()
    {
        using var fixture = new TokenFixture();
        using var wrongKek = new AesGcmKeyProtector(RandomNumberGenerator.GetBytes(32));
        using var ring = new SigningKeyRing(fixture.Store, wrongKek, Options.Create(new KeyRingOptions()), fixture.Time, NullLogger<SigningKeyRing>.Instance);

        var error = await Assert.ThrowsAsync<KeyProtectionException>(() => ring.EnsureKeysAsync(CancellationToken.None));

        Assert.Contains(fixture.Protector.KeyEncryptionKeyId, error.Message, StringComparison.Ordinal);
        Assert.Contains(wrongKek.KeyEncryptionKeyId, error.Message, StringComparison.Ordinal);
        Assert.Null(ring.GetSigningKey());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(9)]
    [InlineData(21)]
    [InlineData(-1)]
    public async Task Load_WithAFlippedCiphertextByte_FailsInsteadOfLoadingAnotherKey(int position)
    {
        using var fixture = new TokenFixture();
        var stored = Assert.Single(await fixture.Store.GetAllAsync(CancellationToken.None));
        var altered = (byte[])stored.ProtectedPrivateKey.Clone();
        var index = position < 0 ? altered.Length + position : position;
        altered[index] ^= 0x01;
        await fixture.Store.UpdateAsync(stored with { ProtectedPrivateKey = altered }, CancellationToken.None);
        using var ring = new SigningKeyRing(fixture.Store, fixture.Protector, Options.Create(new KeyRingOptions()), fixture.Time, NullLogger<SigningKeyRing>.Instance);

        await Assert.ThrowsAsync<KeyProtectionException>(() => ring.EnsureKeysAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Load_OfARetiredKeyPlantedWithoutTheKek_IsRefused()
    {
        // Someone with write access to the store but not the KEK adds their own public key as a "retired" key.
        using var fixture = new TokenFixture();
        using var attacker = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var p = attacker.ExportParameters(false);
        var now = fixture.Time.GetUtcNow();
        await fixture.Store.AddAsync(new StoredSigningKey
        {
            KeyId = KeyIds.EcThumbprint("P-256", p.Q.X, p.Q.Y),
            Algorithm = SigningAlgorithms.ES256,
            CreatedAt = now.AddHours(-2),
            ActivatesAt = now.AddHours(-2),
            RetiresAt = now.AddMinutes(-1),
            PublicKey = attacker.ExportSubjectPublicKeyInfo(),
            ProtectedPrivateKey = RandomNumberGenerator.GetBytes(200),
        }, CancellationToken.None);

        await Assert.ThrowsAsync<KeyProtectionException>(() => fixture.Ring.ReloadAsync(CancellationToken.None));
        using var ring = new SigningKeyRing(fixture.Store, fixture.Protector, Options.Create(new KeyRingOptions()), fixture.Time, NullLogger<SigningKeyRing>.Instance);
        await Assert.ThrowsAsync<KeyProtectionException>(() => ring.EnsureKeysAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Load_OfARevokedKeyWhoseRevocationWasErased_IsRefused()
    {
        using var fixture = new TokenFixture();
        var kid = fixture.ActiveKey.KeyId;
        await fixture.Ring.RevokeAsync(kid, CancellationToken.None);
        var stored = (await fixture.Store.GetAllAsync(CancellationToken.None)).Single(k => k.KeyId == kid);
        await fixture.Store.UpdateAsync(stored with { RevokedAt = null }, CancellationToken.None);
        using var ring = new SigningKeyRing(fixture.Store, fixture.Protector, Options.Create(new KeyRingOptions()), fixture.Time, NullLogger<SigningKeyRing>.Instance);

        await Assert.ThrowsAsync<KeyProtectionException>(() => ring.EnsureKeysAsync(CancellationToken.None));
    }

    [Fact]
    public void Protector_IsSafeUnderConcurrentUse()
    {
        using var protector = new AesGcmKeyProtector(RandomNumberGenerator.GetBytes(32));
        var failures = 0;

        Parallel.For(0, 20_000, i =>
        {
            var secret = BitConverter.GetBytes(i);
            var blob = protector.Protect(secret, "ad"u8);
            if (!protector.Unprotect(blob, "ad"u8).AsSpan().SequenceEqual(secret))
            {
                Interlocked.Increment(ref failures);
            }
        });

        Assert.Equal(0, failures);
    }

    [Fact]
    public void Unprotect_WithOtherAssociatedData_Fails()
    {
        using var protector = new AesGcmKeyProtector(RandomNumberGenerator.GetBytes(32));
        var blob = protector.Protect("secret"u8, "safeguard/signing-key/v1\0kid-a\0ES256"u8);

        Assert.Equal("secret"u8.ToArray(), protector.Unprotect(blob, "safeguard/signing-key/v1\0kid-a\0ES256"u8));
        var error = Assert.Throws<KeyProtectionException>(() => protector.Unprotect(blob, "safeguard/signing-key/v1\0kid-a\0RS256"u8));
        Assert.Contains("failed authentication", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Load_OfARecordWhosePublicKeyWasSwapped_Fails()
    {
        using var fixture = new TokenFixture();
        var stored = Assert.Single(await fixture.Store.GetAllAsync(CancellationToken.None));
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        await fixture.Store.UpdateAsync(stored with { PublicKey = other.ExportSubjectPublicKeyInfo() }, CancellationToken.None);
        using var ring = new SigningKeyRing(fixture.Store, fixture.Protector, Options.Create(new KeyRingOptions()), fixture.Time, NullLogger<SigningKeyRing>.Instance);

        var error = await Assert.ThrowsAsync<KeyProtectionException>(() => ring.EnsureKeysAsync(CancellationToken.None));
        Assert.Contains("thumbprint", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StoredKey_NeverHoldsThePrivateKeyInClear()
    {
        using var fixture = new TokenFixture();
        var stored = Assert.Single(await fixture.Store.GetAllAsync(CancellationToken.None));
        var pkcs8 = fixture.ActivePrivateKey().ExportPkcs8PrivateKey();
        var scalar = fixture.ActivePrivateKey().ExportParameters(true).D!;

        Assert.False(stored.ProtectedPrivateKey.AsSpan().IndexOf(scalar) >= 0, "The private scalar appears in the stored record.");
        Assert.False(stored.ProtectedPrivateKey.AsSpan().IndexOf(pkcs8.AsSpan(0, 16)) >= 0);
    }

    [Fact]
    public void FileKek_IsCreatedWithMode0600AndLoadsTheSameKeyAgain()
    {
        var directory = Directory.CreateTempSubdirectory("safeguard-kek-");
        try
        {
            var path = Path.Combine(directory.FullName, "kek");
            using var created = KeyEncryptionKeys.LoadOrCreateFile(path);
            using var loaded = KeyEncryptionKeys.LoadOrCreateFile(path);

            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            Assert.Equal(created.KeyEncryptionKeyId, loaded.KeyEncryptionKeyId);
            var blob = created.Protect("x"u8, "ad"u8);
            Assert.Equal("x"u8.ToArray(), loaded.Unprotect(blob, "ad"u8));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Theory]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead)]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead)]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.OtherWrite)]
    public void FileKek_ThatOthersCanAccess_IsRefused(UnixFileMode mode)
    {
        var directory = Directory.CreateTempSubdirectory("safeguard-kek-");
        try
        {
            var path = Path.Combine(directory.FullName, "kek");
            KeyEncryptionKeys.LoadOrCreateFile(path).Dispose();
            File.SetUnixFileMode(path, mode);

            var error = Assert.Throws<KeyProtectionException>(() => KeyEncryptionKeys.LoadOrCreateFile(path));
            Assert.Contains("chmod 600", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public void FileStore_InADirectoryOthersCanEnter_IsRefused()
    {
        var directory = Directory.CreateTempSubdirectory("safeguard-keys-");
        try
        {
            File.SetUnixFileMode(directory.FullName, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.OtherExecute);

            var error = Assert.Throws<KeyProtectionException>(() => new FileSigningKeyStore(directory.FullName));
            Assert.Contains("chmod 700", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public void FileKek_OfTheWrongLength_IsRefused()
    {
        var directory = Directory.CreateTempSubdirectory("safeguard-kek-");
        try
        {
            var path = Path.Combine(directory.FullName, "kek");
            File.WriteAllText(path, Convert.ToBase64String(new byte[16]));
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);

            var error = Assert.Throws<KeyProtectionException>(() => KeyEncryptionKeys.LoadOrCreateFile(path));
            Assert.Contains("16 bytes", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public void EnvironmentKek_LoadsBase64AndRefusesAnUnsetVariable()
    {
        var variable = "SAFEGUARD_TEST_KEK_" + Guid.NewGuid().ToString("N");
        Assert.Throws<KeyProtectionException>(() => KeyEncryptionKeys.FromEnvironment(variable));

        Environment.SetEnvironmentVariable(variable, KeyEncryptionKeys.GenerateBase64());
        try
        {
            using var protector = KeyEncryptionKeys.FromEnvironment(variable);
            Assert.Equal(16, protector.KeyEncryptionKeyId.Length);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }
}
