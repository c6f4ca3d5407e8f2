package coveragepkg

func (s *Service) StartRestoreJob() {}
