package coveragepkg

func (s *Service) DeleteBackupVault() {}
